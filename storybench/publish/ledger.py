"""The publish ledger: what a publish has done on the platform, step by step.

One ledger per source folder, platform and world:
``<folder>/publish/<host>_<port>__<world_id>.ledger.json`` (``<folder>`` is the run
folder of a comic, or the story folder). It is a JSON document
(``{"format": "storybench.publish-ledger", "version": 1, ...}``) holding one record
per character, media object and post, keyed by the publish plan's keys
(``character:char-1``, ``media:page-003``, ``post:page-003``). It is rewritten
atomically (:func:`storybench.files.atomic_write_json`) after every step, and a step's
record is written *before* the call that depends on it returns control:

* a character is recorded ``creating`` with its ``publish_key`` before
  ``CreateCharacter``; a rerun finding ``creating`` looks the key up among the
  world's AI characters (their ``meta``) before creating it again;
* a media object is recorded with its ``media_id`` as soon as the platform issues the
  URL, ``uploaded`` after the S3 ``PUT``, ``confirmed`` after ``ConfirmUpload``; a
  rerun confirms an ``uploaded`` object instead of uploading it again. The presigned
  URL itself is never written (it is a credential for the object);
* a post is recorded ``posting`` before ``CreateAIPost`` and ``posted`` with its id after.

The ledger holds ``<folder>/publish/<name>.lock`` while a publish runs, so two
publishes of one folder to one world cannot interleave.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storybench.exceptions import ConfigError
from storybench.files import atomic_write_json

__all__ = [
    "LEDGER_FORMAT",
    "CharacterRecord",
    "LedgerData",
    "MediaRecord",
    "PostRecord",
    "PublishLedger",
    "ledger_path",
]

LEDGER_FORMAT = "storybench.publish-ledger"
LEDGER_VERSION = 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    updated_at: str = Field(default_factory=_now)


class CharacterRecord(_Record):
    """One AI character: ``platform_id`` once created; ``avatar`` is its media key."""

    state: Literal["creating", "created"] = "creating"
    display_name: str
    publish_key: str
    avatar: str = ""
    platform_id: str = ""


class MediaRecord(_Record):
    """One uploaded image: ``media_id`` as issued; ``bytes`` and ``sha256`` of what was sent."""

    state: Literal["requested", "uploaded", "confirmed"] = "requested"
    media_id: str = ""
    filename: str
    content_type: str
    bytes: int = Field(ge=0)
    sha256: str
    expires_at: int = 0
    attempts: int = 0
    variants: list[str] = Field(default_factory=list)


class PostRecord(_Record):
    """One post: the poster's and the media's keys, caption, tags; ``post_id`` once posted."""

    state: Literal["posting", "posted"] = "posting"
    character: str
    media: str
    caption: str
    tags: list[str] = Field(default_factory=list)
    post_id: str = ""


class LedgerData(BaseModel):
    """The ledger document."""

    model_config = ConfigDict(extra="ignore")

    format: str = LEDGER_FORMAT
    version: int = LEDGER_VERSION
    target: str
    world_id: str
    source: str = ""
    characters: dict[str, CharacterRecord] = Field(default_factory=dict)
    media: dict[str, MediaRecord] = Field(default_factory=dict)
    posts: dict[str, PostRecord] = Field(default_factory=dict)
    captions: dict[str, str] = Field(default_factory=dict)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"


def ledger_path(folder: str | os.PathLike[str], target_address: str, world_id: str) -> Path:
    """Where the ledger of ``folder`` for one platform address and world is."""
    return Path(folder) / "publish" / f"{_slug(target_address)}__{_slug(world_id)}.ledger.json"


class PublishLedger:
    """The ledger of one publish, open and locked.

    Args:
        path: the ledger file (see :func:`ledger_path`).
        target: the platform label (``grpc://host:port``), recorded.
        world_id: the world, recorded.
        source: the source folder, recorded.
        lock: take the ledger's lock (``False`` for read-only use such as a dry run).

    Raises:
        ConfigError: another publish holds the lock, or the file is not a ledger.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, target: str, world_id: str, source: str = "", lock: bool = True
    ) -> None:
        self.path = Path(path)
        self._lock: FileLock | None = None
        if lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.path.with_suffix(".lock")))
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                raise ConfigError(f"{self.path}: another publish of this folder to this world is running") from None
        self.data = self._load() or LedgerData(target=target, world_id=world_id, source=source)

    def _load(self) -> LedgerData | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = LedgerData.model_validate(json.loads(text))
        except (ValueError, ValidationError) as exc:
            self.close()
            raise ConfigError(f"{self.path}: not a readable publish ledger: {exc}") from exc
        if data.format != LEDGER_FORMAT or data.version > LEDGER_VERSION:
            self.close()
            raise ConfigError(f"{self.path}: format {data.format!r} version {data.version} is not supported")
        return data

    def save(self) -> None:
        """Write the ledger atomically."""
        atomic_write_json(self.path, self.data.model_dump(mode="json"))

    def put_character(self, key: str, record: CharacterRecord) -> None:
        """Record a character step and save."""
        record.updated_at = _now()
        self.data.characters[key] = record
        self.save()

    def put_media(self, key: str, record: MediaRecord) -> None:
        """Record a media step and save."""
        record.updated_at = _now()
        self.data.media[key] = record
        self.save()

    def put_post(self, key: str, record: PostRecord) -> None:
        """Record a post step and save."""
        record.updated_at = _now()
        self.data.posts[key] = record
        self.save()

    def put_caption(self, key: str, caption: str) -> None:
        """Keep a post's caption (written once, so a rerun posts the same text) and save."""
        self.data.captions[key] = caption
        self.save()

    def close(self) -> None:
        """Release the lock."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> PublishLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
