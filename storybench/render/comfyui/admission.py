"""Whether a workflow may drop in as a template: the panel's prompt must reach the picture, and
paid API nodes must be asked for.

``storybench workflow add`` refuses (one sentence per reason, exit 1):

- a workflow in which no prompt binding reaches the output: every panel would get the
  template's own text. The positive must be found by following the graph (or set by a title or
  ``--bind positive=ID``) and its node must reach the output node; ``--no-prompt`` accepts a
  workflow that takes no prompt on purpose (an upscaler, a weight-free test graph);
- a workflow with API nodes (ComfyUI's ``comfy_api_nodes``: ``/object_info`` marks them
  ``"api_node": true``): each panel would be a paid call to the provider through the user's
  Comfy account. They are named; ``--allow-api-nodes`` accepts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.slot_rules import SlotInference
from storybench.render.comfyui.slots_infer import reaches

__all__ = ["api_nodes", "check_admission"]


def api_nodes(workflow: Mapping[str, Any], object_info: Mapping[str, Any] | None) -> list[str]:
    """The workflow's paid API nodes as ``"11 FluxProUltraImageNode ('Flux 1.1 [pro] Ultra Image')"``.

    Args:
        workflow: an API-format workflow.
        object_info: the server's ``/object_info`` (``None``: nothing can be told, ``[]``).
    """
    found = []
    for nid, node in workflow.items():
        info = (object_info or {}).get(str(node.get("class_type")))
        if isinstance(info, Mapping) and (
            info.get("api_node") or str(info.get("python_module", "")).startswith("comfy_api_nodes")
        ):
            title = (node.get("_meta") or {}).get("title") or info.get("display_name") or node["class_type"]
            found.append(f"{nid} {node['class_type']} ({title!r})")
    return found


def _prompt_problem(workflow: Mapping[str, Any], inference: SlotInference) -> str | None:
    output = inference.slots.get("output", {}).get("node")
    positive = inference.slots.get("positive")
    if positive is None:
        trace = f" ({inference.prompt_trace})" if inference.prompt_trace else ""
        return (
            "no prompt binding reaches the output: storybench found no text input that the panel's prompt "
            f"could fill{trace}, so every panel would be rendered from the workflow's own text. "
            "Name the text node with --bind positive=NODE_ID, or pass --no-prompt for a workflow that "
            "takes no prompt"
        )
    if output is not None and not reaches(workflow, positive["node"], output):
        node = workflow.get(positive["node"], {})
        where = f"{positive['node']} {node.get('class_type', '?')}.{positive['input']}"
        return (
            f"the positive prompt binding is node {where}, "
            f"which does not reach the output node {output}: the panel's prompt would not change the picture. "
            "Name another node with --bind positive=NODE_ID, or pass --no-prompt"
        )
    return None


def check_admission(
    source: str,
    workflow: Mapping[str, Any],
    inference: SlotInference,
    object_info: Mapping[str, Any] | None,
    *,
    no_prompt: bool = False,
    allow_api_nodes: bool = False,
) -> list[str]:
    """Refuse a workflow the panel's prompt cannot reach, or one with unasked-for API nodes.

    Args:
        source: the file, for messages.
        workflow: the API-format workflow.
        inference: its bindings (:func:`~storybench.render.comfyui.slots_infer.infer_slots`).
        object_info: the server's ``/object_info`` when known (API nodes are told by it).
        no_prompt: accept a workflow without a prompt binding.
        allow_api_nodes: accept paid API nodes.

    Returns:
        The API nodes accepted (``[]`` for none).

    Raises:
        WorkflowError: one sentence per reason, naming the nodes and the flag that accepts them.
    """
    problems: list[str] = []
    if object_info is None:
        inference.notes.append("no /object_info (pass --url or --object-info): paid API nodes were not looked for")
    paid = api_nodes(workflow, object_info)
    if paid and not allow_api_nodes:
        problems.append(
            f"it uses paid API nodes ({'; '.join(paid)}): every panel would be a paid call to the "
            "provider through your Comfy account. Pass --allow-api-nodes to add it anyway"
        )
    if not no_prompt:
        problem = _prompt_problem(workflow, inference)
        if problem:
            problems.append(problem)
    if problems:
        raise WorkflowError(BACKEND, f"{source}: not added:\n  " + "\n  ".join(problems))
    return paid
