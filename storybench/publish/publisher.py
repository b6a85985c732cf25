"""The publisher: makes a :class:`~storybench.publish.planning.PublishPlan` exist on a platform.

Order of work: for each character, its avatar (presigned URL → S3 ``PUT`` →
``ConfirmUpload``, with no character id yet), then ``CreateCharacter`` with the
avatar's media id; for each post, its caption (written once, kept in the ledger),
its image upload under the poster's id, then ``CreateAIPost``. Every step is
recorded in the :class:`~storybench.publish.ledger.PublishLedger` as it happens, so
running the same publish again creates nothing that exists, and a publish killed at
any point finishes on the next run (see the ledger's docstring for the recovery of
each step). Catalog rows (kinds ``character``, ``media``, ``post``) are rebuilt from
the ledger at the end of every publish, killed or not, by the next one.

Upload faults (:mod:`storybench.publish.upload`): an expired URL (``expires_at``
passed, or S3 says so) is fetched anew; an S3 refusal gets a new URL after a
backoff; ``ConfirmUpload`` answering ``success=false`` is followed by a new ``PUT``
to the same URL and another confirmation; all of them together at most
``policy.upload_attempts`` times per object. gRPC faults: :mod:`storybench.publish.retry`.

Known limit of the protocol: ``CreateAIPost`` takes no idempotency key and the
platform offers no way to list posts, so a publish killed after the platform stored
a post and before its answer reached the ledger (a window of one round trip) posts
that page again on the next run; the ledger's ``posting`` state makes it visible in the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from tqdm.auto import tqdm

from storybench.exceptions import PublishError
from storybench.files import sha256_bytes
from storybench.llm.base import LLMBackend
from storybench.publish.avatars import avatar_bytes
from storybench.publish.captions import write_caption
from storybench.publish.catalog import write_catalog_rows
from storybench.publish.ledger import CharacterRecord, MediaRecord, PostRecord, PublishLedger, ledger_path
from storybench.publish.planning import CharacterItem, PostItem, PublishPlan, publish_key
from storybench.publish.retry import RetryPolicy
from storybench.publish.targets import PublishTarget
from storybench.publish.upload import UploadExpired, UploadFailed, expired, put_presigned
from storybench.render.base import ImageBackend

__all__ = ["PublishCounts", "PublishReport", "Publisher"]

log = logging.getLogger(__name__)


@dataclass
class PublishCounts:
    """How many characters, confirmed media and posts."""

    characters: int = 0
    media: int = 0
    posts: int = 0

    def __str__(self) -> str:
        return f"{self.characters} character(s), {self.media} media, {self.posts} post(s)"


@dataclass
class PublishReport:
    """What one publish did.

    Attributes:
        created: made by this call.
        existing: found done in the ledger (made by an earlier call).
        ledger: the ledger file.
        target, world_id: where it went.
    """

    plan: PublishPlan
    target: str
    world_id: str
    ledger: str
    created: PublishCounts = field(default_factory=PublishCounts)
    existing: PublishCounts = field(default_factory=PublishCounts)

    def __str__(self) -> str:
        return (
            f"published {self.plan.kind} {self.plan.source_id} to {self.target} world {self.world_id}: "
            f"created {self.created}; already there {self.existing}"
        )


class Publisher:
    """Publishes plans to one target and world.

    Args:
        target: the platform (see :mod:`storybench.publish.targets`).
        world_id: the world to publish into.
        llm: writes captions; ``None`` for the plain narrative text.
        image_backend: renders portraits without a sheet (default: the plan's backend by name).
        http: the httpx client for uploads (default: one made here).
        policy: the retry policy (default: the target's, else :class:`RetryPolicy`).
        progress: show a progress bar over the uploads.
        on_step: called with a one-line description of each step done (logs, notebooks).
    """

    def __init__(
        self,
        target: PublishTarget,
        world_id: str,
        *,
        llm: LLMBackend | None = None,
        image_backend: ImageBackend | None = None,
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        progress: bool = True,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        if not world_id.strip():
            raise PublishError("setup", "world", "the world id is empty (--world)")
        self.target = target
        self.world_id = world_id
        self.llm = llm
        self.image_backend = image_backend
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=120.0)
        self.policy = policy or getattr(target, "policy", None) or RetryPolicy()
        self.progress = progress
        self.on_step = on_step or (lambda text: log.info("%s", text))
        self._bar: object | None = None

    def close(self) -> None:
        """Close the upload client when it was made here."""
        if self._own_http:
            self.http.close()

    # -- the whole publish -------------------------------------------------------------
    def publish(self, plan: PublishPlan) -> PublishReport:
        """Publish ``plan``; see the module docstring.

        Raises:
            PublishRejected: the platform refused a request (names the step and the object).
            PublishError: a step failed after its retries.
            ConfigError: another publish of the same folder and world is running.
        """
        path = ledger_path(plan.folder, self.target.label, self.world_id)
        report = PublishReport(plan, self.target.label, self.world_id, str(path))
        with PublishLedger(path, target=self.target.label, world_id=self.world_id, source=str(plan.folder)) as ledger:
            todo = sum(
                1
                for key in [c.media_key for c in plan.characters] + [p.media_key for p in plan.posts]
                if ledger.data.media.get(key) is None or ledger.data.media[key].state != "confirmed"
            )
            bar = tqdm(total=todo, desc="uploads", unit="image", disable=not self.progress or todo == 0)
            self._bar = bar
            try:
                for item in plan.characters:
                    self._character(plan, ledger, item, report)
                for post in plan.posts:
                    self._post(plan, ledger, post, report)
            finally:
                bar.close()
                self._bar = None
                write_catalog_rows(plan, ledger.data, self.target.name)
        return report

    # -- characters ----------------------------------------------------------------
    def _character(self, plan: PublishPlan, ledger: PublishLedger, item: CharacterItem, report: PublishReport) -> None:
        record = ledger.data.characters.get(item.key)
        if record is not None and record.state == "created":
            report.existing.characters += 1
            report.existing.media += self._confirmed_in(ledger, item.media_key)
            return
        obj = f"character {item.source_id} ({item.display_name})"
        data = avatar_bytes(item.avatar, self.image_backend)
        avatar_id = self._media(
            ledger, item.media_key, data, f"avatar-{item.source_id}.png", "image/png", "", f"avatar of {obj}", report
        )
        key = publish_key(plan.kind, plan.source_id, item.source_id, self.world_id)
        if record is not None:  # killed around CreateCharacter: was it made?
            for found in self.target.ai_characters(self.world_id, obj=obj):
                try:
                    meta = json.loads(found.meta or "{}")
                except ValueError:
                    continue
                if isinstance(meta, dict) and meta.get("publish_key") == record.publish_key:
                    record.state, record.platform_id = "created", found.id
                    ledger.put_character(item.key, record)
                    report.created.characters += 1
                    self.on_step(f"found character {item.display_name} ({found.id}) made before the interruption")
                    return
        record = CharacterRecord(display_name=item.display_name, publish_key=key, avatar=item.media_key)
        ledger.put_character(item.key, record)
        meta_text = json.dumps({**item.meta, "publish_key": key}, ensure_ascii=False, sort_keys=True)
        made = self.target.create_character(
            self.world_id, item.display_name, avatar_media_id=avatar_id, meta=meta_text, obj=obj
        )
        record.state, record.platform_id = "created", made.id
        ledger.put_character(item.key, record)
        report.created.characters += 1
        self.on_step(f"created character {item.display_name} ({made.id})")

    # -- posts -----------------------------------------------------------------------
    def _post(self, plan: PublishPlan, ledger: PublishLedger, post: PostItem, report: PublishReport) -> None:
        record = ledger.data.posts.get(post.key)
        if record is not None and record.state == "posted":
            report.existing.posts += 1
            report.existing.media += self._confirmed_in(ledger, post.media_key)
            return
        poster = ledger.data.characters.get(post.character)
        if poster is None or poster.state != "created":
            raise PublishError("CreateAIPost", post.label, f"its character {post.character} was not created")
        caption = ledger.data.captions.get(post.key)
        if caption is None:
            caption = write_caption(self.llm, post, plan.language, plan.title)
            ledger.put_caption(post.key, caption)
        data = post.image.read_bytes()
        media_id = self._media(
            ledger, post.media_key, data, post.image.name, post.content_type, poster.platform_id, post.label, report
        )
        if record is not None:
            log.warning("%s: an earlier publish stopped while posting it; posting it again", post.label)
        record = PostRecord(character=post.character, media=post.media_key, caption=caption, tags=list(post.tags))
        ledger.put_post(post.key, record)
        answer = self.target.create_ai_post(
            world_id=self.world_id,
            character_id=poster.platform_id,
            media_id=media_id,
            caption=caption,
            tags=list(post.tags),
            obj=post.label,
        )
        record.state, record.post_id = "posted", answer.post_id
        ledger.put_post(post.key, record)
        report.created.posts += 1
        self.on_step(f"posted {post.label} ({answer.post_id})")

    # -- media -------------------------------------------------------------------------
    @staticmethod
    def _confirmed_in(ledger: PublishLedger, key: str) -> int:
        record = ledger.data.media.get(key)
        return int(record is not None and record.state == "confirmed")

    def _media(
        self,
        ledger: PublishLedger,
        key: str,
        data: bytes,
        filename: str,
        content_type: str,
        character_id: str,
        obj: str,
        report: PublishReport,
    ) -> str:
        """Upload and confirm one image unless the ledger has it confirmed; returns its media id."""
        sha = sha256_bytes(data)
        record = ledger.data.media.get(key)
        if record is not None and record.state == "confirmed":
            if record.sha256 != sha:
                log.warning("%s changed since it was published (%s); the published version is kept", obj, key)
            report.existing.media += 1
            return record.media_id
        if record is not None and record.media_id and record.sha256 == sha:
            # killed after the URL was issued: the PUT may have landed; confirming costs one call
            try:
                answer = self.target.confirm_upload(record.media_id, character_id, obj=obj)
            except PublishError as exc:
                log.info("%s: earlier media %s cannot be confirmed (%s); uploading anew", obj, record.media_id, exc)
            else:
                if answer.success:
                    return self._confirmed(ledger, key, record, answer, report)
        attempts = 0
        url = ""
        reason = ""
        while attempts < self.policy.upload_attempts:
            if not url:
                issued = self.target.presigned_upload_url(
                    world_id=self.world_id,
                    character_id=character_id,
                    filename=filename,
                    content_type=content_type,
                    size=len(data),
                    obj=obj,
                )
                record = MediaRecord(
                    media_id=issued.media_id,
                    filename=filename,
                    content_type=content_type,
                    bytes=len(data),
                    sha256=sha,
                    expires_at=int(issued.expires_at),
                    attempts=attempts,
                )
                ledger.put_media(key, record)
                url = issued.upload_url
                if expired(record.expires_at):
                    attempts += 1
                    reason = f"upload URL expired at {record.expires_at} before the PUT"
                    log.info("%s: %s; asking for a new one", obj, reason)
                    url = ""
                    continue
            assert record is not None
            try:
                put_presigned(self.http, url, data, content_type)
            except UploadExpired as exc:
                attempts += 1
                reason, url = str(exc), ""
                log.info("%s: %s; asking for a new URL", obj, reason)
                continue
            except UploadFailed as exc:
                attempts += 1
                reason, url = str(exc), ""
                log.info("%s: %s; retrying with a new URL", obj, reason)
                self.policy.sleep(self.policy.delay(attempts))
                continue
            record.state, record.attempts = "uploaded", attempts + 1
            ledger.put_media(key, record)
            answer = self.target.confirm_upload(record.media_id, character_id, obj=obj)
            if answer.success:
                return self._confirmed(ledger, key, record, answer, report)
            attempts += 1
            reason = f"ConfirmUpload answered success=false for media {record.media_id}"
            log.info("%s: %s; uploading again", obj, reason)
            if expired(record.expires_at):
                url = ""
            self.policy.sleep(self.policy.delay(attempts))
        raise PublishError("upload", obj, f"gave up after {attempts} attempt(s): {reason}")

    def _confirmed(
        self, ledger: PublishLedger, key: str, record: MediaRecord, answer: object, report: PublishReport
    ) -> str:
        record.state = "confirmed"
        record.variants = [v.name for v in getattr(answer, "variants", [])]
        ledger.put_media(key, record)
        report.created.media += 1
        if self._bar is not None:
            self._bar.update(1)  # type: ignore[attr-defined]
        return record.media_id
