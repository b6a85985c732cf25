"""What a ComfyUI server lacks to run a filled workflow, told before any prompt is sent.

:func:`check_prompt` compares a filled API-format workflow with the server's ``/object_info``:
every node class exists (custom nodes), every required input is there, and every literal value
is one the server accepts (the rules of ComfyUI's ``execution.validate_inputs``):

- ``INT``: a whole number (not ``true``/``false``) within ``min``..``max``;
- ``FLOAT``: a number (not a boolean) within ``min``..``max``;
- ``BOOLEAN``: ``true`` or ``false``; ``STRING``: text;
- a combo (a list of options, or ``COMBO`` with ``options``): one of the options; a missing model
  file is named with its binding (``checkpoint``, ``unet``...) and the files installed.

Each problem is one sentence naming the node, the input, the value and what is allowed, e.g.
``node 3 (KSampler) input denoise = 'normal' (binding denoise): expected a number from 0.0 to 1.0``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from storybench.render.comfyui.workflow_graph import is_link

if TYPE_CHECKING:  # workflow.py re-exports check_prompt
    from storybench.render.comfyui.workflow import WorkflowTemplate

__all__ = ["check_prompt", "combo_options", "value_problem"]

_MODEL_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf|sft|onnx)$", re.IGNORECASE)
_MODEL_KINDS = {"ckpt_name": "checkpoint", "unet_name": "diffusion model", "vae_name": "vae", "lora_name": "lora"}


def combo_options(spec: Any) -> list[Any] | None:
    """Options of a combo input spec from ``/object_info`` (``[[...], {...}]`` or
    ``["COMBO", {"options": [...]}]``), else ``None``."""
    if not isinstance(spec, (list, tuple)) or not spec:
        return None
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], Mapping):
        return list(spec[1].get("options", []))
    return None


def _range(options: Mapping[str, Any]) -> str:
    low, high = options.get("min"), options.get("max")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    return f" of at most {high}" if high is not None else ""


def _number_problem(kind: str, value: Any, options: Mapping[str, Any]) -> str | None:
    wanted = "a whole number" if kind == "INT" else "a number"
    ok_type = isinstance(value, int) if kind == "INT" else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        return f"expected {wanted}{_range(options)}"
    low, high = options.get("min"), options.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        return f"expected {wanted}{_range(options)}"
    return None


def value_problem(spec: Any, value: Any) -> str | None:
    """What is wrong with ``value`` for an input declared as ``spec`` in ``/object_info``
    (``"expected a whole number from 1 to 10000"``), ``None`` when it is accepted; links,
    ``{"__value__": [...]}`` lists and inputs of other types are not judged."""
    if is_link(value) or isinstance(value, Mapping) or not isinstance(spec, (list, tuple)) or not spec:
        return None
    kind = spec[0]
    if kind in ("INT", "FLOAT"):
        options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
        return _number_problem(kind, value, options)
    wanted = {"BOOLEAN": (bool, "expected true or false"), "STRING": (str, "expected text")}.get(kind)
    return wanted[1] if wanted and not isinstance(value, wanted[0]) else None


def _combo_problem(
    node_id: str, node: Mapping[str, Any], input_name: str, value: Any, options: list[Any], slot: str | None
) -> str:
    class_type = node["class_type"]
    if isinstance(value, str) and _MODEL_FILE.search(value):
        kind = slot or _MODEL_KINDS.get(input_name, "model file")
        shown = ", ".join(map(str, options[:20])) or "none"
        if len(options) > 20:
            shown += f", ... ({len(options)} in all)"
        return f"{kind} {value} is not installed (node {node_id} {class_type}.{input_name}); installed: {shown}"
    return f"node {node_id} ({class_type}) input {input_name}: {value!r} is not one of {options[:20]}"


def _input_problem(
    node_id: str, node: Mapping[str, Any], input_name: str, spec: Any, template: WorkflowTemplate | None
) -> str | None:
    value = node["inputs"][input_name]
    slot = template.slot_of(node_id, input_name) if template else None
    options = combo_options(spec)
    if options is not None:
        ok = is_link(value) or value in options
        return None if ok else _combo_problem(node_id, node, input_name, value, options, slot)
    wrong = value_problem(spec, value)
    if wrong is None:
        return None
    bound = f" (binding {slot})" if slot else ""
    return f"node {node_id} ({node['class_type']}) input {input_name} = {value!r}{bound}: {wrong}"


def _node_problems(
    node_id: str,
    node: Mapping[str, Any],
    info: Mapping[str, Any],
    template: WorkflowTemplate | None,
    skip: AbstractSet[tuple[str, str]],
) -> list[str]:
    """The problems of one node whose class the server has (``info``: its ``/object_info`` entry):
    required inputs it lacks, then values its inputs cannot take."""
    declared = info.get("input", {}) or {}
    inputs = node.get("inputs", {})
    problems = [
        f"node {node_id} ({node['class_type']}) lacks required input {name!r}"
        for name in declared.get("required") or {}
        if name not in inputs
    ]
    specs = {**(declared.get("required") or {}), **(declared.get("optional") or {})}
    return problems + _value_problems(node_id, node, specs, template, skip)


def _value_problems(
    node_id: str,
    node: Mapping[str, Any],
    specs: Mapping[str, Any],
    template: WorkflowTemplate | None,
    skip: AbstractSet[tuple[str, str]],
) -> list[str]:
    """The problems of the node's given inputs (not in ``skip``) with their ``specs``, in spec order."""
    problems = []
    for input_name, spec in specs.items():
        if input_name in node.get("inputs", {}) and (node_id, input_name) not in skip:
            problem = _input_problem(node_id, node, input_name, spec, template)
            if problem:
                problems.append(problem)
    return problems


def check_prompt(
    prompt: Mapping[str, Any],
    object_info: Mapping[str, Any],
    *,
    template: WorkflowTemplate | None = None,
    skip: AbstractSet[tuple[str, str]] = frozenset(),
) -> list[str]:
    """What a server (described by its ``/object_info``) lacks to run ``prompt``.

    Args:
        prompt: a filled API-format workflow.
        object_info: the server's ``GET /object_info`` answer.
        template: the template it was filled from (names bindings in messages).
        skip: ``(node_id, input)`` pairs not to check (e.g. the reference image, uploaded later).

    Returns:
        Plain-language problems (see the module docstring), empty when the server can run it.
    """
    problems: list[str] = []
    for node_id, node in prompt.items():
        class_type = node["class_type"]
        info = object_info.get(class_type)
        if info is None:
            title = (node.get("_meta") or {}).get("title", class_type)
            problems.append(
                f"node {node_id} ({title!r}) uses class_type {class_type}, which this server does not have "
                "(a custom node that is not installed?)"
            )
            continue
        problems += _node_problems(node_id, node, info, template, skip)
    return problems
