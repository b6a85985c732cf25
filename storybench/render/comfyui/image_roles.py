"""What each image-loading node of a workflow is for, found from what it feeds.

A ``LoadImage`` (or ``LoadImageOutput``) node is one of:

- ``control image``: it reaches a ControlNet or T2I-Adapter (``ControlNetApply*``,
  ``ControlNetInpaintingAliMamaApply``, ``QwenImageDiffsynthControlnet``, ``T2IAdapter``...;
  any class with "ControlNet" or "Adapter" in its name, or an input named ``control_image``,
  ``control_video`` or ``hint``), or passes through a preprocessor (``Canny``, a depth, line
  art or pose estimator), or feeds ``InstructPixToPixConditioning`` in a workflow whose model
  files name a control model (FLUX.1 Canny/Depth dev: ``depth``, ``canny``...). storybench
  keeps it as the workflow has it;
- ``mask``: its ``MASK`` output (index 1) is used, or it feeds an input named ``mask``
  (inpainting and outpainting sources). Kept as the workflow has it;
- ``reference``: otherwise, when it reaches the sampler (an edit or Kontext model's
  ``ReferenceLatent``, ``TextEncodeQwenImageEdit``'s ``image``, ``VAEEncode`` for img2img) or,
  in a workflow without a sampler, the output. Only a reference is filled with a character sheet;
- ``unused``: it reaches neither.

A loader that does several of these is classified by the first that applies, in the order
above (a character sheet must never replace a control map or a mask source).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from storybench.render.comfyui.workflow_graph import WorkflowGraph, is_link

__all__ = ["IMAGE_LOADERS", "ImageInput", "classify_images"]

#: classes that load an image file the workflow is given.
IMAGE_LOADERS = ("LoadImage", "LoadImageOutput")
_CONTROL_INPUTS = ("control_image", "control_video", "hint")
_CONTROL_WORDS = ("ControlNet", "Controlnet", "Adapter")
_PREPROCESSOR_WORDS = ("Canny", "Depth", "Lineart", "LineArt", "Pose", "Preprocessor", "Normal")
_CONTROL_FILE_WORDS = ("depth", "canny", "lineart", "pose", "control")
ROLES = ("control image", "mask", "reference", "unused")


@dataclass(frozen=True)
class ImageInput:
    """One image-loading node and what it is for.

    Attributes:
        node_id: the loader's id.
        role: ``"control image"``, ``"mask"``, ``"reference"`` or ``"unused"``.
        via: how it was classified (``"feeds 42 ControlNetApplyAdvanced.image"``,
            ``"reaches 3 KSampler"``), ``""`` for an unused loader.
    """

    node_id: str
    role: str
    via: str = ""


def _edges(g: WorkflowGraph, nid: str) -> list[tuple[str, str, int]]:
    """``(consumer, input name, output index)`` for every link out of ``nid``."""
    out = []
    for target, name in g.consumers.get(nid, []):
        value = g.inputs(target).get(name)
        if is_link(value) and str(value[0]) == nid:
            out.append((target, name, int(value[1])))
    return out


def _control_models(g: WorkflowGraph) -> bool:
    """The workflow loads a control model (its model or LoRA file names say depth, canny...)."""
    names = ("unet_name", "ckpt_name", "lora_name")
    files = [str(v).lower() for nid in g.nodes for k, v in g.inputs(nid).items() if k in names]
    return any(w in f for f in files for w in _CONTROL_FILE_WORDS)


def _is_control(g: WorkflowGraph, cls: str, name: str) -> bool:
    """An edge into input ``name`` of a ``cls`` node makes the image a control map."""
    if name in _CONTROL_INPUTS or (any(w in cls for w in _CONTROL_WORDS) and name in ("image", "images", "pixels")):
        return True
    if any(w in cls for w in _PREPROCESSOR_WORDS) and "Encode" not in cls:
        return True
    return cls == "InstructPixToPixConditioning" and _control_models(g)


def _edge_role(g: WorkflowGraph, loader: str, edge: tuple[str, str, int], source: str) -> str | None:
    target, name, index = edge
    if _is_control(g, g.cls(target), name):
        return "control image"
    if "mask" in name.lower() or (source == loader and index == 1):
        return "mask"
    return None


def _classify(g: WorkflowGraph, loader: str, goals: set[str]) -> ImageInput:
    found: dict[str, str] = {}
    seen, todo = {loader}, deque([loader])
    while todo:
        nid = todo.popleft()
        for edge in _edges(g, nid):
            target = edge[0]
            role = _edge_role(g, loader, edge, nid)
            if role is not None:
                found.setdefault(role, f"feeds {target} {g.cls(target)}.{edge[1]}")
                continue
            if target in goals:
                found.setdefault("reference", f"reaches {target} {g.cls(target)}")
            if target not in seen:
                seen.add(target)
                todo.append(target)
    role = next((r for r in ROLES if r in found), "unused")
    return ImageInput(loader, role, found.get(role, ""))


def classify_images(g: WorkflowGraph, goals: set[str]) -> list[ImageInput]:
    """Every image loader of ``g`` with its role.

    Args:
        g: the workflow graph.
        goals: node ids that make a loader a reference when reached (the sampler, or the
            output node of a workflow without one).

    Returns:
        One :class:`ImageInput` per loader, in node order.
    """
    return [_classify(g, nid, goals) for nid in g.nodes if g.cls(nid) in IMAGE_LOADERS]
