"""The ``/run`` body of one panel: the workflow built for its spec, reference images inline.

worker-comfyui's input is ``{"input": {"workflow": {...API format...}, "images": [{"name",
"image"}]}}`` (images as base64, or as URLs with ``reference_url_base``). RunPod refuses a
``/run`` body over 10 MB (:data:`~storybench.render.runpod.api.RUN_LIMIT_BYTES`), so the
size is checked here, before anything is sent.
"""

from __future__ import annotations

from storybench.exceptions import PermanentBackendError
from storybench.render.runpod.api import RunPodAPI
from storybench.render.runpod.payload import build_input, load_reference_images
from storybench.render.runpod.workflows import WorkflowBuilder
from storybench.render.spec import RenderSpec

__all__ = ["request_body"]

BACKEND = "runpod"


def request_body(
    spec: RenderSpec, build: WorkflowBuilder, reference_url_base: str | None, max_request_bytes: int
) -> bytes:
    """The exact ``/run`` body for ``spec`` (``{"input": {"workflow", "images"?}}``), UTF-8 JSON.

    Args:
        spec: the panel's render spec; its ``reference_images`` are read from disk.
        build: ``(spec, reference_name) -> API-format workflow``.
        reference_url_base: send references as ``<base>/<name>`` URLs instead of base64.
        max_request_bytes: the largest body allowed, bytes.

    Raises:
        PermanentBackendError: a reference image is missing, or the body exceeds
            ``max_request_bytes`` (the message names both sizes).
        WorkflowError: the workflow cannot be built for this spec.
    """
    try:
        refs = load_reference_images(spec.reference_images)
    except FileNotFoundError as exc:
        raise PermanentBackendError(BACKEND, f"panel {spec.panel_id or '?'}: {exc}") from exc
    workflow = build(spec, refs[0].name if refs else None)
    body = RunPodAPI.encode(build_input(workflow, refs, reference_url_base=reference_url_base))
    if len(body) > max_request_bytes:
        raise PermanentBackendError(
            BACKEND,
            f"panel {spec.panel_id or '?'}: request is {len(body):,} bytes, over the /run limit of "
            f"{max_request_bytes:,} bytes ({len(refs)} reference image(s), "
            f"{sum(len(r.data) for r in refs):,} bytes before base64)",
            hint="use smaller reference images, or set reference_url_base to send them by URL",
        )
    return body
