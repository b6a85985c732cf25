"""One function for the CLI and the notebook: :func:`publish`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence

import httpx

from storybench.exceptions import StorybenchError
from storybench.llm.base import LLMBackend, get_llm_backend
from storybench.plan.models import ComicPlan
from storybench.publish.dryrun import DryRun, dry_run
from storybench.publish.ledger import PublishLedger, ledger_path
from storybench.publish.logs import redact_presigned_urls
from storybench.publish.planning import PublishPlan, plan_publication
from storybench.publish.publisher import Publisher, PublishReport
from storybench.publish.retry import RetryPolicy
from storybench.publish.settings import publish_settings
from storybench.publish.targets import PublishTarget, get_publish_target
from storybench.render.base import ImageBackend, get_image_backend

__all__ = ["publish"]

log = logging.getLogger(__name__)


def _llm(llm: LLMBackend | str | None) -> LLMBackend | None:
    if llm is None or isinstance(llm, LLMBackend):
        return llm
    try:
        return get_llm_backend(llm)
    except (StorybenchError, ImportError) as exc:
        log.warning("captions: LLM %r unavailable (%s); using the plain narrative text", llm, exc)
        return None


def _dry(plan: PublishPlan, world_id: str, target: PublishTarget | str | None) -> DryRun:
    platform = target.platform if isinstance(target, PublishTarget) else publish_settings().platform
    path = ledger_path(plan.catalog_dir, platform, world_id, plan.source_id)
    ledger = None
    if path.is_file():
        ledger = PublishLedger(path, target=platform, world_id=world_id, lock=False).data
    return dry_run(plan, ledger)


def publish(
    source: str | os.PathLike[str],
    world_id: str,
    *,
    pages: Sequence[int] | None = None,
    dry: bool = False,
    target: PublishTarget | str | None = None,
    target_name: str = "generia",
    llm: LLMBackend | str | None = None,
    image_backend: ImageBackend | str | None = None,
    plan: ComicPlan | str | None = None,
    progress: bool = True,
    http: httpx.Client | None = None,
    policy: RetryPolicy | None = None,
    on_step: Callable[[str], None] | None = None,
    resolve: Mapping[str, str] | None = None,
) -> PublishReport | DryRun:
    """Publish a rendered comic run or a played story to a platform world.

    Args:
        source: a run folder, a story folder or a story file.
        world_id: the platform world.
        pages: page numbers (run) or 1-based illustrated segments (story); all by default.
        dry: only list what would be created and uploaded (nothing is sent or rendered).
        target: a :class:`PublishTarget`, or the platform address (default
            ``STORYBENCH_PUBLISH_TARGET``); the token comes from ``STORYBENCH_PUBLISH_TOKEN``.
        target_name: the registered target kind when ``target`` is an address.
        llm: the caption writer (a backend or its name); ``None`` for the narrative text.
        image_backend: renders avatar portraits (a backend or its name); default the run's backend.
        plan: the run's comic plan when its ``run.json`` no longer points to it.
        progress: show a progress bar over the uploads.
        http: httpx client for the uploads.
        policy: the retry policy.
        on_step: called with a line per step done.
        resolve: ``{plan character id: platform character id, or "new"}`` for characters
            an earlier publish left uncertain (``--resolve char-1=ID``).

    Returns:
        A :class:`PublishReport`, or a :class:`DryRun` when ``dry``.

    Raises:
        ConfigError: bad source, pages, settings, target address or ``resolve``.
        PublishUncertain: items left undone rather than risk a duplicate (its ``report``
            and its lines say what was done and what to check).
        PublishRejected: the platform refused a request (names the step and the object).
        PublishError: a step failed after its retries, or a service is missing.
    """
    redact_presigned_urls()
    backend_name = image_backend if isinstance(image_backend, str) else None
    plan_ = plan_publication(source, pages=pages, plan=plan, image_backend=backend_name or "storyboard")
    if dry:
        return _dry(plan_, world_id, target)
    settings = publish_settings()
    own_target = not isinstance(target, PublishTarget)
    client: PublishTarget = (
        target if isinstance(target, PublishTarget) else get_publish_target(target_name, target=target, policy=policy)
    )
    own_backend = isinstance(image_backend, str)
    backend = get_image_backend(image_backend) if isinstance(image_backend, str) else image_backend
    writer = _llm(llm)
    publisher = Publisher(
        client,
        world_id,
        llm=writer,
        image_backend=backend,
        http=http,
        policy=policy,
        progress=progress,
        on_step=on_step,
        settle_seconds=settings.settle_seconds,
    )
    try:
        return publisher.publish(plan_, resolve=resolve)
    finally:
        publisher.close()
        _close_owned(
            client if own_target else None,
            backend if own_backend else None,
            writer if not isinstance(llm, LLMBackend) else None,
        )


def _close_owned(client: PublishTarget | None, backend: ImageBackend | None, writer: LLMBackend | None) -> None:
    """Close the target, image backend and caption writer that ``publish`` made (``None``: not its own)."""
    if client is not None:
        client.close()
    if backend is not None:
        backend.close()
    if writer is not None:
        writer.close()
