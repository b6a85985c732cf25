"""The publish ledger: what has been published, where, step by step.

One ledger per platform deployment, world and source (a comic plan or a story):
``<catalog dir>/publish/<platform>__<world_id>__<plan or story id>.ledger.json``.
The platform is its name (``STORYBENCH_PUBLISH_PLATFORM``, default ``generia``), not
its address, so publishing through another address of the same deployment finds
everything done; the catalog folder is the one every run of the plan lands in, so a
re-render of the same plan finds it too. Posts and their images are keyed by content
(``post:page-003#<sha256 of the page image, 16 hex>``): a re-render with identical pages
publishes nothing, a changed page publishes as a new post (the platform has no call to
edit a post).

It is a JSON document (``{"format": "storybench.publish-ledger", "version": 2, ...}``)
rewritten atomically (:func:`storybench.files.atomic_write_json`) after every step, and a
step's record is written *before* the call it describes:

* a character is recorded ``creating`` before ``CreateCharacter`` and ``created`` with
  its id the moment the answer arrives. A ``creating`` record without an id is
  *uncertain*: the platform may hold the character, and its API finds an AI character
  by id only (``GetUserCharactersInWorld`` filters on ``real_user_id``, which AI
  characters do not have), so it is not created again until the user says which it
  is (``storybench publish --resolve char-1=<id>`` or ``char-1=new``);
* a media object is recorded with its ``media_id`` as soon as the platform issues the
  URL, ``uploaded`` after the S3 ``PUT``, ``confirmed`` after ``ConfirmUpload``; a
  rerun confirms that same media id first and uploads only when the platform says the
  object is not there. The presigned URL itself is never written (it is a credential);
* a post is recorded ``posting`` with the media id and the character id before
  ``CreateAIPost``, ``posted`` with its id after; a rerun finding ``posting`` looks the
  post up with ``GetCharacterPosts`` before posting.

The ledger holds ``<name>.lock`` while a publish runs, so two publishes of one source to
one world cannot interleave.
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
LEDGER_VERSION = 2


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    updated_at: str = Field(default_factory=_now)


class CharacterRecord(_Record):
    """One AI character: ``platform_id`` once known; ``avatar`` is its media key;
    ``found`` when it was recovered from the platform rather than created by a call
    whose answer arrived; ``note`` says why a ``creating`` record is uncertain."""

    state: Literal["creating", "created"] = "creating"
    display_name: str
    publish_key: str
    avatar: str = ""
    platform_id: str = ""
    found: bool = False
    note: str = ""


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
    media_id: str = ""
    character_id: str = ""
    found: bool = False


class LedgerData(BaseModel):
    """The ledger document: ``target`` is the platform's name, ``addresses`` every address
    it was reached at, ``source`` the source id (plan or story id)."""

    model_config = ConfigDict(extra="ignore")

    format: str = LEDGER_FORMAT
    version: int = LEDGER_VERSION
    target: str
    world_id: str
    source: str = ""
    addresses: list[str] = Field(default_factory=list)
    characters: dict[str, CharacterRecord] = Field(default_factory=dict)
    media: dict[str, MediaRecord] = Field(default_factory=dict)
    posts: dict[str, PostRecord] = Field(default_factory=dict)
    captions: dict[str, str] = Field(default_factory=dict)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"


def ledger_path(folder: str | os.PathLike[str], platform: str, world_id: str, source_id: str) -> Path:
    """Where the ledger of ``source_id`` (a plan or story id) on one platform and world is,
    under the catalog folder ``folder``."""
    name = f"{_slug(platform)}__{_slug(world_id)}__{_slug(source_id)}.ledger.json"
    return Path(folder) / "publish" / name


class PublishLedger:
    """The ledger of one publish, open and locked.

    Args:
        path: the ledger file (see :func:`ledger_path`).
        target: the platform's name (``STORYBENCH_PUBLISH_PLATFORM``), recorded.
        world_id: the world, recorded.
        source: the plan or story id, recorded.
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
                raise ConfigError(f"{self.path}: another publish of this plan to this world is running") from None
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

    def add_address(self, label: str) -> None:
        """Record an address the platform was reached at and save."""
        if label not in self.data.addresses:
            self.data.addresses.append(label)
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
