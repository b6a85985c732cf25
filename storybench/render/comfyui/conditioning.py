"""Following a workflow's conditioning from the sampler (or guider) up to the text a prompt fills.

A text node is any node with a literal text input (:data:`~.slot_rules.TEXT_INPUTS`: ``text``
of ``CLIPTextEncode``, ``t5xxl``/``clip_l`` of ``CLIPTextEncodeFlux``, ``prompt`` of
``TextEncodeQwenImageEdit`` and ``TextEncodeQwenImageEditPlus``...), or a link to a primitive
holding one. The walk goes up conditioning inputs (``conditioning*``, ``positive``,
``negative``, ``cond*``) breadth-first; at a node that takes both ``positive`` and ``negative``
and gives both (``ControlNetApplyAdvanced``, ``InstructPixToPixConditioning``...), output 0
continues up ``positive`` and output 1 up ``negative``. ``ConditioningZeroOut`` on the way
marks the branch as zeroed; the first literal ``guidance`` met is FLUX guidance.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from storybench.render.comfyui.slot_rules import COND_INPUTS, TEXT_INPUTS
from storybench.render.comfyui.workflow_graph import WorkflowGraph, is_link

__all__ = ["GUIDER_NEGATIVE", "GUIDER_POSITIVE", "TextTrace", "conditioning_starts", "follow_text"]

#: guider inputs that carry the positive conditioning (``CFGGuider``, ``BasicGuider``,
#: ``DualCFGGuider.cond1``), first present wins.
GUIDER_POSITIVE = ("positive", "conditioning", "cond1")
GUIDER_NEGATIVE = ("negative",)
_BRANCHES = {0: "positive", 1: "negative"}


@dataclass
class TextTrace:
    """Where a conditioning branch leads.

    Attributes:
        text_node: the node whose text the prompt fills (``None`` when none was reached).
        zeroed: a ``ConditioningZeroOut`` lies on the way.
        guidance: the node with a literal ``guidance`` input met on the way.
        visited: the nodes walked, in order (for messages).
    """

    text_node: str | None = None
    zeroed: bool = False
    guidance: str | None = None
    visited: list[str] = field(default_factory=list)


def conditioning_starts(g: WorkflowGraph, sampler: str) -> tuple[list[int] | None, list[int] | None, str]:
    """The links the positive and negative conditioning come through, and the node that takes
    them (the sampler, or its guider for ``SamplerCustomAdvanced``)."""
    taker = g.source(sampler, "guider") or sampler
    positive_names = GUIDER_POSITIVE if taker != sampler else ("positive",)
    inputs = g.inputs(taker)
    positive = next((inputs[n] for n in positive_names if is_link(inputs.get(n))), None)
    negative = next((inputs[n] for n in GUIDER_NEGATIVE if is_link(inputs.get(n))), None)
    return positive, negative, taker


def _is_text(g: WorkflowGraph, nid: str) -> bool:
    return g.cls(nid).startswith("CLIPTextEncode") or g.literal_input(nid, TEXT_INPUTS) is not None


def _upstream(g: WorkflowGraph, nid: str, index: int) -> list[tuple[str, int]]:
    """``(source, output index)`` of the conditioning inputs of ``nid`` reached by its output ``index``."""
    inputs = g.inputs(nid)
    names = [n for n in inputs if COND_INPUTS.match(n)]
    if "positive" in names and "negative" in names and index in _BRANCHES:
        names = [_BRANCHES[index]]
    links = [inputs[n] for n in names if is_link(inputs[n]) and str(inputs[n][0]) in g.nodes]
    return [(str(v[0]), int(v[1])) for v in links]


def follow_text(g: WorkflowGraph, link: list[int] | None) -> TextTrace:
    """Follow a conditioning link upstream to the text node (see the module docstring)."""
    trace = TextTrace()
    if link is None or str(link[0]) not in g.nodes:
        return trace
    todo: deque[tuple[str, int]] = deque([(str(link[0]), int(link[1]))])
    seen: set[str] = set()
    while todo:
        nid, index = todo.popleft()
        if nid in seen:
            continue
        seen.add(nid)
        trace.visited.append(nid)
        trace.zeroed = trace.zeroed or g.cls(nid) == "ConditioningZeroOut"
        guidance = g.inputs(nid).get("guidance")
        if trace.guidance is None and guidance is not None and not is_link(guidance):
            trace.guidance = nid
        if _is_text(g, nid):
            trace.text_node = nid
            return trace
        todo.extend(_upstream(g, nid, index))
    return trace
