"""ComfyUI workflow templates with named bindings ("slots").

A binding says which node input a role lives in (the positive prompt, the seed...); storybench's
older word for it, kept in ``.slots.json``, ``--slot`` and :class:`Slot`, is "slot", which in
ComfyUI means a node's socket instead.

A template is an API-format workflow (what ComfyUI's "Export (API)" writes:
``{node_id: {"class_type": ..., "inputs": {...}, "_meta": {"title": ...}}}``) plus a
sidecar ``<name>.slots.json`` mapping named slots to node inputs::

    {
      "positive": {"node": "Positive Prompt", "input": "text"},   # node title ...
      "seed":     {"node": "3", "input": "seed"},                 # ... or node id
      "output":   {"node": "Save Image"},
      "presets":  {"preview": {"steps": 20}, "final": {"steps": 28}},
      "prompt_template": "character sheet, {prompt}"
    }

Known slots: ``positive``, ``negative``, ``seed``, ``width``, ``height``, ``steps``,
``cfg``, ``sampler``, ``scheduler``, ``guidance``, ``denoise``, ``color``,
``checkpoint``, ``unet``, ``clip_l``, ``t5``, ``text_encoder``, ``clip_vision``, ``vae``,
``lora``, ``reference_image`` (with ``reference_image_2``... for workflows taking several:
:mod:`~storybench.render.comfyui.references`), ``filename_prefix`` and ``output``
(the image-saving node; found automatically when the workflow has exactly one SaveImage).
Every slot is optional except that an output node must be found.
:meth:`WorkflowTemplate.fill` is the only code that writes node inputs; no caller touches
``workflow["6"]["inputs"]``.

Templates are found by name in the ``workflows/`` folder of the storybench checkout
(or ``$STORYBENCH_COMFYUI_WORKFLOWS``), or loaded from a path, or built from a dict.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storybench.exceptions import ConfigError, WorkflowError
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.prompt_check import check_prompt
from storybench.render.comfyui.references import REFERENCE_SLOTS, leave_out
from storybench.render.comfyui.template_dirs import (
    read_template_json,
    shipped_workflows_dir,
    slots_sidecar,
    template_names,
    template_path,
    user_workflows_dir,
    workflow_dirs,
)
from storybench.render.spec import RenderSpec

__all__ = [
    "MODEL_SLOTS",
    "SLOT_NAMES",
    "Slot",
    "WorkflowTemplate",
    "check_prompt",
    "shipped_workflows_dir",
    "template_names",
    "user_workflows_dir",
    "workflow_dirs",
]

SLOT_NAMES = (
    "positive",
    "negative",
    "seed",
    "width",
    "height",
    "steps",
    "cfg",
    "sampler",
    "scheduler",
    "guidance",
    "denoise",
    "color",
    "checkpoint",
    "unet",
    "clip_l",
    "t5",
    "text_encoder",
    "clip_vision",
    "vae",
    "lora",
    *REFERENCE_SLOTS,
    "filename_prefix",
    "output",
)
MODEL_SLOTS = ("checkpoint", "unet", "clip_l", "t5", "text_encoder", "clip_vision", "vae", "lora")
_META_KEYS = ("presets", "prompt_template", "description")
_PARAM_SLOTS: dict[str, type] = {
    "steps": int,
    "cfg": float,
    "sampler": str,
    "scheduler": str,
    "guidance": float,
    "denoise": float,
    "checkpoint": str,
    "unet": str,
    "clip_l": str,
    "t5": str,
    "text_encoder": str,
    "clip_vision": str,
    "vae": str,
    "lora": str,
    "color": int,
}
_SAVE_NODES = ("SaveImage", "PreviewImage")


def _check_api_format(workflow: Any, source: str) -> None:
    """Refuse anything but an API-format workflow, saying what it is instead."""
    if not isinstance(workflow, Mapping) or not workflow:
        raise WorkflowError(BACKEND, f"workflow {source}: empty or not a JSON object")
    if "nodes" in workflow and "links" in workflow:
        raise WorkflowError(
            BACKEND,
            f"workflow {source}: this is the UI format; export it with "
            "'Export (API)' in ComfyUI (Settings: enable dev mode options)",
        )
    for node_id, node in workflow.items():
        if not isinstance(node, Mapping) or "class_type" not in node or not isinstance(node.get("inputs", {}), Mapping):
            raise WorkflowError(
                BACKEND,
                f"workflow {source}: node {node_id!r} has no class_type/inputs; is this an API-format export?",
            )


def _typed(key: str, value: Any) -> Any:
    """``params[key]`` as the type its binding takes; a boolean is no number (``int(True)`` is 1)."""
    typ = _PARAM_SLOTS.get(key, type(value))
    if typ in (int, float) and isinstance(value, bool):
        raise ConfigError(f"params.{key}: {value!r} is not a valid {typ.__name__}")
    try:
        return typ(value) if not (typ is int and isinstance(value, str)) else int(value, 0)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"params.{key}: {value!r} is not a valid {typ.__name__}") from exc


class Slot:
    """Where a named slot lives once resolved.

    Attributes:
        name: slot name, e.g. ``"positive"``.
        node_id: the node's id in the workflow.
        input: the input name (``None`` for the ``output`` slot).
        wanted: what the slot declaration looked for (node id or title).
    """

    __slots__ = ("input", "name", "node_id", "wanted")

    def __init__(self, name: str, node_id: str, input: str | None, wanted: str) -> None:
        self.name, self.node_id, self.input, self.wanted = name, node_id, input, wanted

    def __repr__(self) -> str:
        return f"Slot({self.name!r} -> node {self.node_id}.{self.input})"


def _binding_target(name: str, spec: Any) -> tuple[str, Any] | str:
    """``(node id or title, input name)`` of binding ``name`` declared as ``spec``, or the problem."""
    if isinstance(spec, Mapping):
        return str(spec.get("node")), spec.get("input")
    if isinstance(spec, (list, tuple)) and len(spec) in (1, 2):
        return str(spec[0]), (spec[1] if len(spec) == 2 else None)
    return f"slot {name!r}: expected {{'node': id-or-title, 'input': name}}, got {spec!r}"


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class WorkflowTemplate:
    """An API-format workflow with named slots.

    Args:
        workflow: the API-format workflow (node id → ``{"class_type", "inputs", "_meta"}``).
        slots: slot name → ``{"node": id-or-title, "input": name}`` (or a ``(node, input)``
            pair); may also hold ``presets`` (``{"preview": {"steps": 20}, ...}``) and
            ``prompt_template`` (``"... {prompt} ..."``); keys starting with ``_`` are comments.
        name: template name used in messages and metrics.
        source: where it was loaded from (for messages).

    Raises:
        WorkflowError: the workflow is not API format, or a slot does not resolve; the
            message names the node ids/titles looked for and the nodes present.
    """

    def __init__(
        self, workflow: Mapping[str, Any], slots: Mapping[str, Any], *, name: str = "custom", source: str | None = None
    ) -> None:
        self.name = name
        self.source = source or name
        _check_api_format(workflow, self.source)
        self.workflow: dict[str, Any] = json.loads(json.dumps(workflow))
        raw = {k: v for k, v in slots.items() if not str(k).startswith("_")}
        self.presets: dict[str, dict[str, Any]] = dict(raw.pop("presets", {}) or {})
        self.prompt_template: str | None = raw.pop("prompt_template", None)
        raw.pop("description", None)
        self.description = str(slots.get("_description", slots.get("description", "")))
        self.slot_decl = raw
        self.slots: dict[str, Slot] = self._resolve(raw)
        self.content_hash = hashlib.sha256(
            _canonical({"workflow": self.workflow, "slots": slots}).encode("utf-8")
        ).hexdigest()

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str], slots: Mapping[str, Any] | None = None) -> WorkflowTemplate:
        """Load a template by name (see :func:`workflow_dirs`) or from a ``.json`` path.

        Args:
            name_or_path: ``"sd15_txt2img"`` or ``"path/to/my_workflow.json"``.
            slots: slot mapping to use instead of the ``<name>.slots.json`` sidecar.

        Raises:
            WorkflowError: not found, not JSON, or slots that do not resolve.
        """
        path = template_path(name_or_path)
        name = path.name[:-5] if path.name.endswith(".json") else path.name
        workflow = read_template_json(path)
        if slots is None:
            slots = read_template_json(slots_sidecar(path, name))
        return cls(workflow, slots, name=name, source=str(path))

    # ---------------------------------------------------------------- slots
    def _find_node(self, wanted: str) -> list[str]:
        if wanted in self.workflow:
            return [wanted]
        return [nid for nid, node in self.workflow.items() if (node.get("_meta") or {}).get("title") == wanted]

    def _nodes_summary(self) -> str:
        return ", ".join(
            f"{nid} {n['class_type']} {(n.get('_meta') or {}).get('title', '')!r}" for nid, n in self.workflow.items()
        )

    def _resolve_one(self, name: str, spec: Any) -> Slot | str:
        """Binding ``name`` declared as ``spec`` resolved to a :class:`Slot`, or the problem."""
        if name not in SLOT_NAMES:
            return f"unknown slot {name!r} (known: {', '.join(SLOT_NAMES)})"
        target = _binding_target(name, spec)
        if isinstance(target, str):
            return target
        wanted, input_name = target
        found = self._find_node(wanted)
        if len(found) != 1:
            if found:
                return f"slot {name!r}: title {wanted!r} is used by nodes {', '.join(found)}; use a node id"
            return f"slot {name!r} looks for node id or title {wanted!r}: no such node"
        if name == "output":
            return Slot(name, found[0], None, wanted)
        problem = self._input_problem(name, found[0], wanted, input_name)
        return problem or Slot(name, found[0], input_name, wanted)

    def _input_problem(self, name: str, node_id: str, wanted: str, input_name: Any) -> str | None:
        """Why binding ``name`` cannot use input ``input_name`` of node ``node_id``; ``None`` if it can."""
        inputs = self.workflow[node_id].get("inputs", {})
        if not input_name:
            return f"slot {name!r}: no input name given for node {node_id}"
        if input_name not in inputs:
            return (
                f"slot {name!r}: node {node_id} ({self.workflow[node_id]['class_type']}, title "
                f"{wanted!r}) has no input {input_name!r}; inputs: {', '.join(inputs)}"
            )
        return None

    def _resolve(self, decl: Mapping[str, Any]) -> dict[str, Slot]:
        resolved: dict[str, Slot] = {}
        problems: list[str] = []
        for name, spec in decl.items():
            slot = self._resolve_one(name, spec)
            if isinstance(slot, Slot):
                resolved[name] = slot
            else:
                problems.append(slot)
        if "output" not in resolved and not any("output" in p for p in problems):
            savers = [nid for nid, n in self.workflow.items() if n["class_type"] in _SAVE_NODES]
            if len(savers) == 1:
                resolved["output"] = Slot("output", savers[0], None, savers[0])
            else:
                problems.append(
                    f"no 'output' slot and {len(savers)} SaveImage/PreviewImage nodes; name the output node"
                )
        if problems:
            raise WorkflowError(
                BACKEND,
                f"workflow {self.source}: slots do not resolve:\n  "
                + "\n  ".join(problems)
                + f"\n  nodes present: {self._nodes_summary()}",
            )
        return resolved

    def has_slot(self, name: str) -> bool:
        """True when the template maps slot ``name``."""
        return name in self.slots

    @property
    def output_node(self) -> str:
        """Id of the node whose images are the result."""
        return self.slots["output"].node_id

    @property
    def supports_reference(self) -> bool:
        """True when the template has a ``reference_image`` slot (e.g. FLUX Kontext)."""
        return "reference_image" in self.slots

    @property
    def reference_slots(self) -> list[str]:
        """The reference bindings the template has, in order (``reference_image``, ``reference_image_2``...)."""
        return [name for name in REFERENCE_SLOTS if name in self.slots]

    def default(self, slot: str) -> Any:
        """The value the workflow itself holds for ``slot`` (``None`` when unmapped)."""
        s = self.slots.get(slot)
        return None if s is None or s.input is None else self.workflow[s.node_id]["inputs"].get(s.input)

    # ---------------------------------------------------------------- filling
    def _preset(self, quality: Any) -> Mapping[str, Any]:
        """The values of preset ``quality`` (``{}`` for none, or when the template has no presets)."""
        if quality is None or (quality not in self.presets and not self.presets):
            return {}
        if quality not in self.presets:
            raise ConfigError(
                f"params.quality: {quality!r} is not a preset of workflow {self.name} "
                f"(presets: {', '.join(self.presets)})"
            )
        return self.presets[quality]

    def settings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The slot values set from ``params`` (after applying the ``quality`` preset):
        steps, cfg, sampler, scheduler, guidance, denoise, color and model names.

        Args:
            params: a spec's params, e.g. ``{"steps": 28, "quality": "final", "checkpoint": "x.safetensors"}``.

        Raises:
            ConfigError: unknown preset or a value of the wrong type.
        """
        values: dict[str, Any] = dict(self._preset(params.get("quality")))
        for key in _PARAM_SLOTS:
            if key in params and params[key] is not None:
                values[key] = params[key]
        return {key: _typed(key, value) for key, value in values.items() if key in self.slots}

    def fill(
        self,
        spec: RenderSpec,
        *,
        reference_image: str | None = None,
        reference_images: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        use_prompt_template: bool = True,
    ) -> dict[str, Any]:
        """A fresh API-format workflow for ``spec``, ready for ``POST /prompt``.

        Sets positive (through ``prompt_template`` when given), negative, seed, width,
        height (pixels), the ``params`` settings (see :meth:`settings`), ``color``
        (from the seed unless given), ``filename_prefix`` (template prefix + panel id)
        and ``reference_image`` (a name the server knows, from ``POST /upload/image``).

        Args:
            spec: what to render.
            reference_image: uploaded image name for the ``reference_image`` slot.
            reference_images: uploaded image names for the reference bindings in order
                (``reference_image``, ``reference_image_2``...; the characters' sheets, speakers
                first); names beyond the template's references are not used, references beyond
                the names are left out as the graph allows
                (:func:`~storybench.render.comfyui.references.leave_out`).
            params: parameters to use instead of ``spec.params``.
            use_prompt_template: apply the template's ``prompt_template`` to the prompt.

        Raises:
            WorkflowError: ``reference_image`` given but the template has no such slot.
            ConfigError: bad parameter values.
        """
        params = spec.params if params is None else params
        wf = copy.deepcopy(self.workflow)
        for slot, value in self._spec_values(spec, params, use_prompt_template).items():
            self._put(wf, slot, value)
        names = [reference_image, *reference_images] if reference_image is not None else list(reference_images)
        if names:
            self._put_references(wf, names)
        return wf

    def _put(self, wf: dict[str, Any], slot: str, value: Any) -> None:
        """Set ``slot``'s node input in ``wf`` to ``value`` (nothing when the template does not map it)."""
        s = self.slots.get(slot)
        if s is not None and s.input is not None:
            wf[s.node_id]["inputs"][s.input] = value

    def _spec_values(self, spec: RenderSpec, params: Mapping[str, Any], use_prompt_template: bool) -> dict[str, Any]:
        """Slot → value for ``spec``, in writing order: prompts, seed, size, settings, color, filename prefix."""
        positive = spec.prompt
        if self.prompt_template and use_prompt_template:
            positive = self.prompt_template.replace("{prompt}", spec.prompt)
        values: dict[str, Any] = {"positive": positive, "negative": spec.negative_prompt, "seed": int(spec.seed)}
        values.update(width=int(spec.width), height=int(spec.height))
        settings = self.settings(params)
        if "color" in self.slots and "color" not in settings:
            settings["color"] = (int(spec.seed) * 2654435761) & 0xFFFFFF
        values.update(settings)
        if "filename_prefix" in self.slots:
            base = str(self.default("filename_prefix") or "storybench")
            tag = re.sub(r"[^A-Za-z0-9_-]+", "_", spec.panel_id).strip("_")
            values["filename_prefix"] = f"{base}_{tag}" if tag else base
        return values

    def _put_references(self, wf: dict[str, Any], names: list[str]) -> None:
        """Write uploaded image ``names`` into the reference bindings in order (see :meth:`fill`)."""
        if "reference_image" not in self.slots:
            raise WorkflowError(BACKEND, f"workflow {self.name} has no reference_image slot")
        for i, slot in enumerate(self.reference_slots):
            if i < len(names):
                self._put(wf, slot, names[i])
            elif not leave_out(wf, self.slots[slot].node_id):
                self._put(wf, slot, names[0])

    def identity(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """What identifies this template's output besides the spec: name, content hash
        and :meth:`settings` (raises like :meth:`settings`)."""
        return {"workflow": self.name, "hash": self.content_hash, "settings": self.settings(params)}

    def slot_inputs(self, names: Iterable[str]) -> set[tuple[str, str]]:
        """``(node_id, input)`` pairs of the named slots that are mapped."""
        mapped = (self.slots[n] for n in names if n in self.slots)
        return {(s.node_id, s.input) for s in mapped if s.input}

    def slot_of(self, node_id: str, input_name: str) -> str | None:
        """Name of the slot mapped to ``node_id.input_name``, if any."""
        for s in self.slots.values():
            if s.node_id == node_id and s.input == input_name:
                return s.name
        return None
