"""Several reference images in one workflow: their order, and leaving unused ones out.

Edit models take several references: Qwen-Image-Edit-2509 through
``TextEncodeQwenImageEditPlus``'s ``image1``..``image3``, FLUX Kontext and FLUX.2 through
chained ``ReferenceLatent`` nodes, others through several ``LoadImage`` nodes. The
bindings are ``reference_image`` (the first), ``reference_image_2``... up to
:data:`MAX_REFERENCES`; :func:`reference_order` puts the loaders in that order:

1. by the number of the ``image<N>`` input the loader's image reaches (``image1`` first);
2. else by the loader's place in a ``ReferenceLatent`` chain (nearest the text first);
3. else by node id.

A panel with fewer characters than the workflow has references leaves the rest out as
the workflow allows (:func:`leave_out`): an optional ``image<N>`` input of a
``TextEncodeQwenImageEdit*`` node is removed, a ``ReferenceLatent`` is bypassed (its
consumers take its ``conditioning``), and the loader with the image nodes between
(scalers, ``VAEEncode``) is deleted. Where neither applies, the loader gets the first
reference again (a repeated reference is harmless; a missing file is an error).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from storybench.render.comfyui.workflow_graph import WorkflowGraph, is_link

__all__ = ["MAX_REFERENCES", "REFERENCE_SLOTS", "leave_out", "reference_order"]

#: Most reference images a workflow is filled with.
MAX_REFERENCES = 4
#: The reference bindings, in order.
REFERENCE_SLOTS: tuple[str, ...] = ("reference_image", *(f"reference_image_{i}" for i in range(2, MAX_REFERENCES + 1)))
_IMAGE_N = re.compile(r"^image(\d+)$")
_PASS_WORDS = ("ImageScale", "Resize", "VAEEncode", "Crop", "Upscale")


def _numeric(nid: str) -> tuple[int, str]:
    return (int(nid), nid) if nid.isdigit() else (1 << 30, nid)


def _chain_place(g: WorkflowGraph, node: str) -> int:
    """How many ``ReferenceLatent`` nodes lie upstream of ``node`` on its conditioning."""
    return sum(1 for n in g.upstream(node, ("conditioning",)) if g.cls(n) == "ReferenceLatent")


def _key(g: WorkflowGraph, loader: str) -> tuple[int, int, tuple[int, str]]:
    numbered: list[int] = []
    chained: list[int] = []
    for nid in g.downstream(loader):
        for target, name in g.consumers.get(nid, []):
            m = _IMAGE_N.match(name)
            if m:
                numbered.append(int(m.group(1)))
            if g.cls(target) == "ReferenceLatent" and name == "latent":
                chained.append(_chain_place(g, target))
    return (min(numbered) if numbered else 1 << 20, min(chained) if chained else 1 << 20, _numeric(loader))


def reference_order(workflow: dict[str, Any] | WorkflowGraph, loaders: Sequence[str]) -> list[str]:
    """``loaders`` (node ids of reference image loaders) in reference order (see module doc)."""
    g = workflow if isinstance(workflow, WorkflowGraph) else WorkflowGraph(workflow)
    return sorted(loaders, key=lambda nid: _key(g, nid))


def _plan_removal(g: WorkflowGraph, loader: str) -> tuple[set[str], list[tuple[str, str]], list[str]] | None:
    """``(nodes to delete, (node, input) to drop, ReferenceLatent nodes to bypass)``, or None."""
    delete, drop, bypass = {loader}, [], []
    todo = [loader]
    while todo:
        nid = todo.pop()
        for target, name in g.consumers.get(nid, []):
            edge = _edge_kind(g.cls(target), name)
            if edge == "drop":
                drop.append((target, name))
            elif edge == "bypass":
                bypass.append(target)
            elif target in delete:
                continue
            elif edge == "pass":
                delete.add(target)
                todo.append(target)
            else:
                return None
    return delete, drop, bypass


def _edge_kind(cls: str, name: str) -> str:
    """What removing a reference loader does to a link into input ``name`` of a ``cls`` node:
    ``"drop"`` the input, ``"bypass"`` the node, ``"pass"`` through it (deleting it too), or
    ``"block"`` (the loader cannot be removed)."""
    if cls.startswith("TextEncodeQwenImageEdit") and _IMAGE_N.match(name):
        return "drop"
    if cls == "ReferenceLatent" and name == "latent":
        return "bypass"
    if any(w in cls for w in _PASS_WORDS):
        return "pass"
    return "block"


def leave_out(workflow: dict[str, Any], loader: str) -> bool:
    """Remove reference loader ``loader`` from ``workflow`` (in place) as the graph allows
    (see module doc).

    Returns:
        True when it was removed; False when the graph offers no way (``workflow`` unchanged).
    """
    g = WorkflowGraph(workflow)
    planned = _plan_removal(g, loader)
    if planned is None:
        return False
    delete, drop, bypass = planned
    for node, name in drop:
        del workflow[node]["inputs"][name]
    for node in bypass:
        upstream = workflow[node]["inputs"].get("conditioning")
        for target, name in g.consumers.get(node, []):
            if target in workflow and is_link(workflow[target]["inputs"].get(name)):
                workflow[target]["inputs"][name] = upstream
        delete.add(node)
    for node in delete:
        workflow.pop(node, None)
    return True
