"""The publisher: makes a :class:`~storybench.publish.planning.PublishPlan` exist on a platform, at most once.

Order of work: nothing is called when the ledger (see :mod:`storybench.publish.ledger`)
already holds everything. Otherwise each service's ``HealthCheck`` first (a missing or
unhealthy service stops the publish before anything is created); then, for each
character, its avatar (presigned URL → S3 ``PUT`` → ``ConfirmUpload``, with no
character id yet, as the platform's own ai-worker uploads media made before their
owner) and ``CreateCharacter`` with the avatar's media id; for each post, its caption
(written once, kept in the ledger), its image uploaded under the poster's id, and
``CreateAIPost``.

At most once, recovered from the platform itself: a create call whose outcome is
unknown (its answer lost to ``UNAVAILABLE``, a deadline, or a kill) is never sent
again blindly.

* A post is looked for with ``GetCharacterPosts`` (matched on the media id recorded in
  the ledger before the call), for up to ``settle_seconds`` in the same publish and again
  on the next one; it is posted again only when the platform does not show it.
* A character cannot be looked for: the platform finds an AI character by id only. It
  is reported *uncertain* (the message says what to check and to run
  ``storybench publish … --resolve char-1=<id>`` or ``char-1=new``), never counted as
  created, and its posts wait; the publish ends with
  :class:`~storybench.exceptions.PublishUncertain` after doing everything else.

When the ledger was written through another address, the characters it holds are read
back (``GetCharacter``) before anything else: a platform that does not know them is
another deployment, and the publish stops instead of trusting the ledger.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
from tqdm.auto import tqdm

from storybench.exceptions import ConfigError, PublishError, PublishUncertain
from storybench.llm.base import LLMBackend
from storybench.publish.avatars import avatar_bytes
from storybench.publish.captions import write_caption
from storybench.publish.catalog import write_catalog_rows
from storybench.publish.ledger import CharacterRecord, MediaRecord, PostRecord, PublishLedger, ledger_path
from storybench.publish.media import MediaUpload, MediaUploader
from storybench.publish.migrate import import_v1_ledger
from storybench.publish.planning import CharacterItem, PostItem, PublishPlan, publish_key
from storybench.publish.proto import media_pb2
from storybench.publish.retry import OutcomeUnknown, RetryPolicy
from storybench.publish.targets import PublishTarget
from storybench.render.base import ImageBackend

__all__ = ["NEW", "PublishCounts", "PublishReport", "Publisher"]

log = logging.getLogger(__name__)

#: ``--resolve char-1=new``: the uncertain character is not on the platform; create it.
NEW = "new"


@dataclass
class PublishCounts:
    """How many characters, confirmed media and posts."""

    characters: int = 0
    media: int = 0
    posts: int = 0

    def __str__(self) -> str:
        return f"{self.characters} character(s), {self.media} media, {self.posts} post(s)"

    def __bool__(self) -> bool:
        return bool(self.characters or self.media or self.posts)


@dataclass
class PublishReport:
    """What one publish did.

    Attributes:
        created: made by this call.
        existing: found done in the ledger (published by an earlier call).
        found: found on the platform after an earlier publish lost the answer (not created now).
        uncertain: one sentence per item left undone rather than risk a duplicate.
        ledger: the ledger file.
        target: the platform's name and address; world_id: the world.
    """

    plan: PublishPlan
    target: str
    world_id: str
    ledger: str
    created: PublishCounts = field(default_factory=PublishCounts)
    existing: PublishCounts = field(default_factory=PublishCounts)
    found: PublishCounts = field(default_factory=PublishCounts)
    uncertain: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"published {self.plan.kind} {self.plan.source_id} to {self.target} world {self.world_id}: "
            f"created {self.created}; already there {self.existing}"
        )
        if self.found:
            text += f"; found on the platform {self.found}"
        if self.uncertain:
            text += f"; {len(self.uncertain)} item(s) uncertain or waiting"
        return text


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
        settle_seconds: how long a post whose ``CreateAIPost`` answer was lost is looked for, seconds.
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
        settle_seconds: float = 10.0,
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
        self.settle_seconds = settle_seconds
        self._bar: object | None = None

    def close(self) -> None:
        """Close the upload client when it was made here."""
        if self._own_http:
            self.http.close()

    @property
    def platform(self) -> str:
        """The deployment's name the ledger is kept for."""
        return str(getattr(self.target, "platform", self.target.name))

    # -- the whole publish -------------------------------------------------------------
    def publish(self, plan: PublishPlan, *, resolve: Mapping[str, str] | None = None) -> PublishReport:
        """Publish ``plan``; see the module docstring.

        Args:
            plan: what to publish.
            resolve: ``{character id in the plan: platform character id or "new"}`` for
                characters an earlier publish left uncertain.

        Raises:
            PublishUncertain: some items were left undone rather than risk a duplicate
                (its ``report`` holds the rest).
            PublishRejected: the platform refused a request (names the step and the object).
            PublishError: a step failed after its retries, or a service is missing.
            ConfigError: another publish of the same source and world is running; the
                ledger's characters are unknown to this platform; a bad ``resolve``.
        """
        resolve = self._checked_resolve(plan, resolve)
        path = ledger_path(plan.catalog_dir, self.platform, self.world_id, plan.source_id)
        report = PublishReport(plan, f"{self.platform} ({self.target.label})", self.world_id, str(path))
        with PublishLedger(path, target=self.platform, world_id=self.world_id, source=plan.source_id) as ledger:
            self._publish_into(plan, ledger, report, resolve)
        if report.uncertain:
            raise PublishUncertain(report.uncertain, report)
        return report

    @staticmethod
    def _checked_resolve(plan: PublishPlan, resolve: Mapping[str, str] | None) -> dict[str, str]:
        """``resolve`` as a dict; ConfigError when it names a character the plan does not have."""
        chosen = dict(resolve or {})
        unknown = sorted(set(chosen) - {c.source_id for c in plan.characters})
        if unknown:
            raise ConfigError(f"--resolve: no character {', '.join(unknown)} in {plan.source_id}")
        return chosen

    def _publish_into(
        self, plan: PublishPlan, ledger: PublishLedger, report: PublishReport, resolve: Mapping[str, str]
    ) -> None:
        """Publish the characters, then the posts, into an open ledger; catalog rows written last."""
        if import_v1_ledger(ledger, plan):
            self.on_step(f"took over the earlier ledger of {plan.folder} (version 1)")
        uploader = MediaUploader(self.target, self.world_id, ledger, self.http, self.policy, self._uploaded(report))
        todo, work = self._todo(plan, ledger)
        if work or (ledger.data.addresses and self.target.label not in ledger.data.addresses):
            self._check_platform(ledger, work)
        bar = tqdm(total=todo, desc="uploads", unit="image", disable=not self.progress or todo == 0)
        self._bar = bar
        try:
            for item in plan.characters:
                self._character(plan, ledger, uploader, item, report, resolve.get(item.source_id))
            for post in plan.posts:
                self._post(plan, ledger, uploader, post, report)
        finally:
            bar.close()
            self._bar = None
            write_catalog_rows(plan, ledger.data, self.target.name)

    @staticmethod
    def _todo(plan: PublishPlan, ledger: PublishLedger) -> tuple[int, bool]:
        """How many uploads are left, and whether any character or post is."""
        data = ledger.data
        chars = [c for c in plan.characters if getattr(data.characters.get(c.key), "state", "") != "created"]
        posts = [p for p in plan.posts if getattr(data.posts.get(p.record_key), "state", "") != "posted"]
        keys = [c.media_key for c in chars] + [p.media_key for p in posts]
        uploads = sum(1 for key in keys if getattr(data.media.get(key), "state", "") != "confirmed")
        return uploads, bool(chars or posts)

    def _check_platform(self, ledger: PublishLedger, work: bool) -> None:
        """Read back the ledger's characters at a new address; health-check before creating."""
        label = self.target.label
        if ledger.data.addresses and label not in ledger.data.addresses:
            for key, record in ledger.data.characters.items():
                if record.state != "created":
                    continue
                found = self.target.get_character(record.platform_id, obj=f"{key} ({record.display_name})")
                if found is None or found.world_id != self.world_id:
                    raise ConfigError(
                        f"{ledger.path}: the platform at {label} has no character {record.platform_id} "
                        f"({record.display_name}) that {self.platform!r} holds: it is another deployment; "
                        "name it with STORYBENCH_PUBLISH_PLATFORM"
                    )
            self.on_step(f"{label} is {self.platform!r}: the characters published there are here")
        if work:
            self.target.health()
        ledger.add_address(label)

    def _uploaded(self, report: PublishReport) -> Callable[[MediaRecord], None]:
        def done(record: MediaRecord) -> None:
            report.created.media += 1
            if self._bar is not None:
                self._bar.update(1)  # type: ignore[attr-defined]

        return done

    # -- characters ----------------------------------------------------------------
    def _character(
        self,
        plan: PublishPlan,
        ledger: PublishLedger,
        uploader: MediaUploader,
        item: CharacterItem,
        report: PublishReport,
        resolved: str | None,
    ) -> None:
        record = ledger.data.characters.get(item.key)
        if record is not None and record.state == "created":
            report.existing.characters += 1
            report.existing.media += int(bool(uploader.confirmed_id(item.media_key)))
            return
        obj = f"character {item.source_id} ({item.display_name})"
        if record is not None and resolved is None:  # an earlier CreateCharacter lost its answer
            report.uncertain.append(self._uncertain_character(plan, item, record))
            return
        if record is not None and resolved != NEW:
            self._adopt(ledger, item, record, str(resolved), report)
            return
        data = avatar_bytes(item.avatar, self.image_backend)
        upload = MediaUpload(
            item.media_key,
            data,
            f"avatar-{item.source_id}.png",
            "image/png",
            "",
            media_pb2.MEDIA_TYPE_CHARACTER_AVATAR,
            f"avatar of {obj}",
        )
        avatar_id = uploader.upload(upload)
        key = publish_key(plan.kind, plan.source_id, item.source_id, self.world_id)
        record = CharacterRecord(display_name=item.display_name, publish_key=key, avatar=item.media_key)
        ledger.put_character(item.key, record)
        meta_text = json.dumps({**item.meta, "publish_key": key}, ensure_ascii=False, sort_keys=True)
        try:
            made = self.target.create_character(
                self.world_id, item.display_name, avatar_media_id=avatar_id, meta=meta_text, obj=obj
            )
        except OutcomeUnknown as exc:
            record.note = f"CreateCharacter was sent and its answer lost [{exc.code}]"
            ledger.put_character(item.key, record)
            report.uncertain.append(self._uncertain_character(plan, item, record))
            return
        record.state, record.platform_id = "created", made.id
        ledger.put_character(item.key, record)
        report.created.characters += 1
        self.on_step(f"created character {item.display_name} ({made.id})")

    def _uncertain_character(self, plan: PublishPlan, item: CharacterItem, record: CharacterRecord) -> str:
        why = record.note or "an earlier publish stopped during CreateCharacter"
        sid = item.source_id
        return (
            f"uncertain: character {sid} ({item.display_name}): {why}, and the platform finds AI characters "
            f"by id only; check world {self.world_id} for {item.display_name!r} (its meta has publish_key "
            f"{record.publish_key}) and run `storybench publish {plan.folder} --world {self.world_id} "
            f"--resolve {sid}=<character id>` (or `--resolve {sid}={NEW}` if it is not there)"
        )

    def _adopt(
        self,
        ledger: PublishLedger,
        item: CharacterItem,
        record: CharacterRecord,
        platform_id: str,
        report: PublishReport,
    ) -> None:
        """``--resolve char-1=<id>``: check the character is the one this publish made, then record it."""
        where = f"--resolve {item.source_id}={platform_id}"
        found = self.target.get_character(platform_id, obj=f"character {item.source_id} ({item.display_name})")
        if found is None:
            raise ConfigError(f"{where}: the platform has no character {platform_id}")
        try:
            meta = json.loads(found.meta or "{}")
        except ValueError:
            meta = {}
        mark = meta.get("publish_key") if isinstance(meta, dict) else None
        if found.world_id != self.world_id or not found.is_ai or mark != record.publish_key:
            raise ConfigError(
                f"{where}: character {platform_id} ({found.display_name}, world {found.world_id}) is not the one "
                f"this publish made (its meta's publish_key is {mark!r}, expected {record.publish_key!r})"
            )
        record.state, record.platform_id, record.found, record.note = "created", platform_id, True, ""
        ledger.put_character(item.key, record)
        report.found.characters += 1
        self.on_step(f"found character {item.display_name} ({platform_id}) on the platform; not created again")

    # -- posts -----------------------------------------------------------------------
    def _post(
        self, plan: PublishPlan, ledger: PublishLedger, uploader: MediaUploader, post: PostItem, report: PublishReport
    ) -> None:
        record = ledger.data.posts.get(post.record_key)
        if record is not None and record.state == "posted":
            report.existing.posts += 1
            report.existing.media += int(bool(uploader.confirmed_id(post.media_key)))
            return
        poster = ledger.data.characters.get(post.character)
        if poster is None or poster.state != "created":
            name = plan.character(post.character).display_name
            report.uncertain.append(f"waiting: {post.label}: its character {name} is not on the platform yet")
            return
        if record is not None and record.media_id and self._found_earlier(ledger, post, record, report):
            return
        caption = self._caption(plan, ledger, post)
        upload = MediaUpload(
            post.media_key,
            post.image.read_bytes(),
            post.image.name,
            post.content_type,
            poster.platform_id,
            media_pb2.MEDIA_TYPE_POST_IMAGE,
            post.label,
        )
        media_id = uploader.upload(upload)
        record = PostRecord(
            character=post.character,
            media=post.media_key,
            caption=caption,
            tags=list(post.tags),
            media_id=media_id,
            character_id=poster.platform_id,
        )
        ledger.put_post(post.record_key, record)
        post_id = self._create_post(post, record, report)
        if not post_id:
            return
        record.state, record.post_id = "posted", post_id
        ledger.put_post(post.record_key, record)
        report.created.posts += 1
        self.on_step(f"posted {post.label} ({post_id})")

    def _caption(self, plan: PublishPlan, ledger: PublishLedger, post: PostItem) -> str:
        """The post's caption: the ledger's, or a new one written and kept in the ledger."""
        caption = ledger.data.captions.get(post.key)
        if caption is None:
            caption = write_caption(self.llm, post, plan.language, plan.title)
            ledger.put_caption(post.key, caption)
        return caption

    def _create_post(self, post: PostItem, record: PostRecord, report: PublishReport) -> str:
        """Send ``CreateAIPost``; the post id, or "" (noted as uncertain) when its fate is unknown."""
        try:
            answer = self.target.create_ai_post(
                world_id=self.world_id,
                character_id=record.character_id,
                media_id=record.media_id,
                caption=record.caption,
                tags=list(post.tags),
                obj=post.label,
            )
            return str(answer.post_id)
        except OutcomeUnknown as exc:
            post_id = self._settle(post, record)
            if not post_id:
                report.uncertain.append(
                    f"uncertain: {post.label}: CreateAIPost was sent and its answer lost [{exc.code}], and the "
                    f"post is not among the character's posts after {self.settle_seconds:g} s; run the same "
                    "command again later: it looks for the post before posting"
                )
            return post_id

    def _found_earlier(self, ledger: PublishLedger, post: PostItem, record: PostRecord, report: PublishReport) -> bool:
        """An earlier publish stopped during ``CreateAIPost``: is the post on the platform?"""
        post_id = self._find(post, record)
        if not post_id:
            log.info("%s: not on the platform after an interrupted publish; posting it", post.label)
            return False
        record.state, record.post_id, record.found = "posted", post_id, True
        ledger.put_post(post.record_key, record)
        report.found.posts += 1
        self.on_step(f"found {post.label} ({post_id}) on the platform; not posted again")
        return True

    def _find(self, post: PostItem, record: PostRecord) -> str:
        return str(
            self.target.find_post(
                world_id=self.world_id, character_id=record.character_id, media_id=record.media_id, obj=post.label
            )
        )

    def _settle(self, post: PostItem, record: PostRecord) -> str:
        """Look for a post whose answer was lost, for up to ``settle_seconds``."""
        deadline = time.monotonic() + self.settle_seconds
        while True:
            post_id = self._find(post, record)
            if post_id or time.monotonic() >= deadline:
                return post_id
            self.policy.sleep(self.policy.settle_interval_seconds)
