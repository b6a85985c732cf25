"""Building worker-comfyui workflows from render specs.

A :data:`WorkflowBuilder` turns a :class:`~storybench.render.spec.RenderSpec` into an
API-format ComfyUI workflow. The default one, :func:`template_workflow_builder`, fills
the ComfyUI backend's slot templates (``storybench.render.comfyui.workflow``, imported
lazily so the RunPod backend works without it when given its own builder).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.workflow import WorkflowTemplate
from storybench.render.runpod.payload import load_reference_images
from storybench.render.spec import RenderSpec

__all__ = ["WorkflowBuilder", "template_workflow_builder"]

log = logging.getLogger(__name__)
BACKEND = "runpod"

#: Builds the API-format workflow for a spec. ``reference_name`` is the file name the
#: first reference image will have in ComfyUI's input folder (``None`` without references).
WorkflowBuilder = Callable[[RenderSpec, "str | None"], dict]


def template_workflow_builder(
    workflow: str = "flux1_kontext", text_workflow: str | None = "flux1_dev"
) -> tuple[WorkflowBuilder, Callable[[RenderSpec], str]]:
    """A builder using the ComfyUI backend's slot templates
    (``storybench.render.comfyui.workflow.WorkflowTemplate``, imported lazily).

    Args:
        workflow: template name or path for panels with reference images (and for all
            panels when ``text_workflow`` is ``None``).
        text_workflow: template for panels without reference images.

    ``spec.params["workflow"]`` overrides both. Returns ``(builder, identity)`` where
    ``identity(spec)`` is the template's content hash and settings as a string.

    Raises (when called):
        WorkflowError: a template cannot be loaded or its slots do not resolve.
    """
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def template_for(spec: RenderSpec) -> Any:
        name = spec.params.get("workflow") or (
            workflow if (spec.reference_images or not text_workflow) else text_workflow
        )
        with lock:
            if name not in cache:
                cache[name] = WorkflowTemplate.load(name)
            return cache[name]

    def build(spec: RenderSpec, reference_name: str | None) -> dict:
        template = template_for(spec)
        if reference_name is not None and not template.supports_reference:
            log.warning(
                "workflow %s has no reference_image slot; panel %s renders without its reference image",
                template.name,
                spec.panel_id or "?",
            )
            reference_name = None
        if reference_name is None and template.supports_reference:
            raise WorkflowError(
                BACKEND,
                f"workflow {template.name} needs a reference image and panel "
                f"{spec.panel_id or '?'} has none; give spec.reference_images or choose a "
                "text-to-image workflow (text_workflow=)",
            )
        if reference_name is None:
            return template.fill(spec)
        return template.fill(
            spec, reference_images=_reference_names(spec, reference_name)[: len(template.reference_slots)]
        )

    def identity(spec: RenderSpec) -> str:
        template = template_for(spec)
        return json.dumps(template.identity(spec.params), sort_keys=True, separators=(",", ":"))

    return build, identity


def _reference_names(spec: RenderSpec, first: str) -> list[str]:
    """Every sheet of the panel (speakers first), named as they travel in the job's ``images``.

    In preflight the sheets a run renders first do not exist yet: they get placeholder names
    after ``first`` (only the workflow's shape is checked then).
    """
    paths = spec.reference_images
    if not all(Path(p).is_file() for p in paths):
        stem = first.rsplit(".", 1)[0]
        return [first] + [f"{stem}_{i}.png" for i in range(2, len(paths) + 1)]
    return [r.name for r in load_reference_images(paths)] or [first]
