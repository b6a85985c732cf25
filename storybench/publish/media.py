"""One image onto the platform: presigned URL → S3 ``PUT`` → ``ConfirmUpload``, at most once per content.

:class:`MediaUploader` is used by the publisher for avatars and page images. The
ledger's :class:`~storybench.publish.ledger.MediaRecord` is written at each step, so a
media object whose upload outcome is unknown (the publish was killed after the URL was
issued or after the ``PUT``, or the ``PUT`` got no answer) is *re-confirmed* under the
media id it was issued, and uploaded again only when the platform says its store does
not hold it (``ConfirmUpload`` answers ``success=false`` or fails with the platform's
"failed to verify media in storage").

Faults (see :mod:`storybench.publish.upload`): an expired URL (``expires_at`` passed, or
S3 says so) is fetched anew; an S3 refusal gets a new URL after a backoff; a ``PUT``
without an answer is confirmed, then sent again to the same URL; ``ConfirmUpload``
answering ``success=false`` is followed by a new ``PUT`` to the same URL and another
confirmation; all of them together at most ``policy.upload_attempts`` times per object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from storybench.exceptions import PublishError, PublishRejected
from storybench.files import sha256_bytes
from storybench.publish.ledger import MediaRecord, PublishLedger
from storybench.publish.retry import RetryPolicy
from storybench.publish.targets import PublishTarget
from storybench.publish.upload import UploadExpired, UploadFailed, expired, put_presigned

__all__ = ["MediaUpload", "MediaUploader"]

log = logging.getLogger(__name__)

#: ``ConfirmUpload`` failures that mean "the store does not hold the object" (the platform
#: answers a plain error, which gRPC carries as UNKNOWN).
_NOT_STORED = ("UNKNOWN", "NOT_FOUND", "INTERNAL")


@dataclass(frozen=True)
class _Retry:
    """An upload attempt that did not confirm: why, and whether to ask for a new URL and back off."""

    reason: str
    new_url: bool
    backoff: bool


@dataclass(frozen=True)
class MediaUpload:
    """One image to upload.

    Attributes:
        key: the ledger key (``media:page-003#...``, ``media:avatar-char-1``).
        data: the bytes.
        filename, content_type: as declared to the platform.
        character_id: the owner's platform id, ``""`` for media made before their character.
        media_type: the platform's ``MediaType`` value (avatar or post image).
        obj: what it is, for messages (``page 3``, ``avatar of character char-1 (Ann)``).
    """

    key: str
    data: bytes
    filename: str
    content_type: str
    character_id: str
    media_type: int
    obj: str


class MediaUploader:
    """Uploads media for one publish.

    Args:
        target: the platform.
        world_id: the world.
        ledger: the open ledger.
        http: the httpx client for the ``PUT``.
        policy: the retry policy.
        on_confirmed: called with the record of each object confirmed by this publish.
    """

    def __init__(
        self,
        target: PublishTarget,
        world_id: str,
        ledger: PublishLedger,
        http: httpx.Client,
        policy: RetryPolicy,
        on_confirmed: Callable[[MediaRecord], None],
    ) -> None:
        self.target = target
        self.world_id = world_id
        self.ledger = ledger
        self.http = http
        self.policy = policy
        self.on_confirmed = on_confirmed

    def confirmed_id(self, key: str) -> str:
        """The media id of ``key`` when the ledger has it confirmed, else ``""``."""
        record = self.ledger.data.media.get(key)
        return record.media_id if record is not None and record.state == "confirmed" else ""

    def upload(self, item: MediaUpload) -> str:
        """Make ``item`` a confirmed media object; returns its media id.

        Raises:
            PublishRejected: the platform refused a call.
            PublishError: the upload failed ``policy.upload_attempts`` times, or a call failed.
        """
        sha = sha256_bytes(item.data)
        record = self.ledger.data.media.get(item.key)
        if record is not None and record.state == "confirmed":
            if record.sha256 != sha:
                log.warning("%s changed since it was published (%s); the published version is kept", item.obj, item.key)
            return record.media_id
        if record is not None and record.media_id and record.sha256 == sha and self._reconfirm(item, record):
            return record.media_id
        return self._upload(item, sha)

    def _reconfirm(self, item: MediaUpload, record: MediaRecord) -> bool:
        """An earlier publish stopped after the URL was issued: is the object there already?"""
        answer = self._confirm(item, record)
        if answer is None or not answer.success:
            log.info("%s: media %s is not in the platform's store; uploading it", item.obj, record.media_id)
            return False
        self._confirmed(item.key, record, answer)
        return True

    def _confirm(self, item: MediaUpload, record: MediaRecord) -> Any:
        """``ConfirmUpload``; ``None`` when the platform says its store does not hold the object."""
        try:
            return self.target.confirm_upload(record.media_id, obj=item.obj)
        except PublishRejected:
            raise
        except PublishError as exc:
            if exc.code in _NOT_STORED:
                return None
            raise

    def _issue(self, item: MediaUpload, sha: str, attempts: int) -> tuple[MediaRecord, str]:
        issued = self.target.presigned_upload_url(
            world_id=self.world_id,
            character_id=item.character_id,
            filename=item.filename,
            content_type=item.content_type,
            size=len(item.data),
            media_type=item.media_type,
            obj=item.obj,
        )
        record = MediaRecord(
            media_id=issued.media_id,
            filename=item.filename,
            content_type=item.content_type,
            bytes=len(item.data),
            sha256=sha,
            expires_at=int(issued.expires_at),
            attempts=attempts,
        )
        self.ledger.put_media(item.key, record)
        return record, str(issued.upload_url)

    def _upload(self, item: MediaUpload, sha: str) -> str:
        attempts, url, reason = 0, "", ""
        record: MediaRecord | None = None
        while attempts < self.policy.upload_attempts:
            if not url:
                record, url = self._issue(item, sha, attempts)
                if expired(record.expires_at):
                    attempts += 1
                    reason, url = f"upload URL expired at {record.expires_at} before the PUT", ""
                    log.info("%s: %s; asking for a new one", item.obj, reason)
                    continue
            assert record is not None
            outcome = self._attempt(item, record, url, attempts)
            if isinstance(outcome, str):
                return outcome
            attempts += 1
            reason = outcome.reason
            if outcome.new_url:
                url = ""
            if outcome.backoff:
                self.policy.sleep(self.policy.delay(attempts))
        raise PublishError("upload", item.obj, f"gave up after {attempts} attempt(s): {reason}")

    def _attempt(self, item: MediaUpload, record: MediaRecord, url: str, attempts: int) -> str | _Retry:
        """One ``PUT`` to ``url`` and its confirmation: the media id once confirmed, else what to do next."""
        try:
            put_presigned(self.http, url, item.data, item.content_type)
        except UploadExpired as exc:
            log.info("%s: %s; asking for a new URL", item.obj, exc)
            return _Retry(str(exc), new_url=True, backoff=False)
        except UploadFailed as exc:
            return self._put_failed(item, record, exc)
        record.state, record.attempts = "uploaded", attempts + 1
        self.ledger.put_media(item.key, record)
        answer = self._confirm(item, record)
        if answer is not None and answer.success:
            return self._confirmed(item.key, record, answer)
        reason = f"ConfirmUpload answered success=false for media {record.media_id}"
        log.info("%s: %s; uploading again", item.obj, reason)
        return _Retry(reason, new_url=expired(record.expires_at), backoff=True)

    def _put_failed(self, item: MediaUpload, record: MediaRecord, exc: UploadFailed) -> str | _Retry:
        """A refused ``PUT`` gets a new URL; one without an answer is confirmed, then sent again."""
        reason = str(exc)
        if exc.status != 0:
            log.info("%s: %s; retrying with a new URL", item.obj, reason)
            return _Retry(reason, new_url=True, backoff=True)
        log.info("%s: %s; asking the platform whether it arrived", item.obj, reason)
        answer = self._confirm(item, record)
        if answer is not None and answer.success:
            return self._confirmed(item.key, record, answer)
        log.info("%s: %s; sending it again to the same URL", item.obj, reason)
        return _Retry(reason, new_url=False, backoff=True)

    def _confirmed(self, key: str, record: MediaRecord, answer: Any) -> str:
        record.state = "confirmed"
        record.variants = [v.name for v in getattr(answer, "variants", [])]
        self.ledger.put_media(key, record)
        self.on_confirmed(record)
        return record.media_id
