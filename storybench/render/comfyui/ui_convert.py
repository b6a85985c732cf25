"""UI-format workflows (what ComfyUI's "Save" writes) converted to the API format.

The UI format is ``{"nodes": [...], "links": [...], "groups": [...], ...}``: each node
has ``id``, ``type`` (its class), ``mode``, ``inputs`` (``{"name", "type", "link"}``,
``"widget": {"name"}`` for a widget that takes a link), ``outputs`` and
``widgets_values``; each link is ``[id, origin_id, origin_slot, target_id, target_slot,
type]`` (or the same as an object). The API format is what ``POST /prompt`` takes:
``{node_id: {"class_type", "inputs", "_meta": {"title"}}}``.

Rules, as ComfyUI's frontend applies them when it queues a prompt (``graphToPrompt``):

- ``widgets_values`` follow the class's widget inputs in ``/object_info`` order: required
  then optional, only inputs of a widget type (``INT``, ``FLOAT``, ``STRING``,
  ``BOOLEAN``, ``COMBO`` or a list of options; not ``forceInput``). A widget converted to
  an input keeps its place in ``widgets_values`` and the link wins; a file that left the
  link-fed widgets out (fewer values than widgets) is read without them;
- a seed widget (``seed``, ``noise_seed``, or ``control_after_generate`` in its options)
  is followed by its ``control_after_generate`` value (``fixed``, ``increment``,
  ``decrement``, ``randomize``), which is not an input;
- ``Reroute`` nodes are removed and their link passed through; a ``PrimitiveNode``'s value
  (first widget value) becomes the input of every node it feeds; ``Note`` and
  ``MarkdownNote`` are dropped, and so is any node of a class the server does not know that
  is linked to nothing (labels and notes of custom node packs); a linked one is an error;
- muted nodes (``mode`` 2) are dropped, and inputs linked to them are removed;
- bypassed nodes (``mode`` 4) are dropped, and a link from one is passed to the bypassed
  node's input of the same type (the input at the link's output index first);
- ``_meta.title`` is the node's ``title`` when the user set one, else the class's
  ``display_name``.

The class information comes from the server's ``GET /object_info``
(:meth:`~storybench.render.comfyui.client.ComfyUIClient.object_info`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.errors import BACKEND

__all__ = ["CONTROL_VALUES", "FRONTEND_ONLY", "is_ui_format", "ui_to_api", "widget_names"]

#: node types that exist only in the browser (never sent to the server).
FRONTEND_ONLY = ("Reroute", "PrimitiveNode", "Note", "MarkdownNote")
#: values of the ``control_after_generate`` widget that follows a seed.
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
_WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
_MUTED, _BYPASSED = 2, 4


def is_ui_format(data: Any) -> bool:
    """True for a UI-format workflow (``nodes`` and ``links`` lists)."""
    return isinstance(data, Mapping) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list)


def _is_widget(spec: Any) -> bool:
    if not isinstance(spec, (list, tuple)) or not spec:
        return False
    head = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    if options.get("forceInput"):
        return False
    return isinstance(head, list) or head in _WIDGET_TYPES


def _has_control(name: str, spec: Any) -> bool:
    options = spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    if "control_after_generate" in options:
        return bool(options["control_after_generate"])
    return name in ("seed", "noise_seed") and isinstance(spec, (list, tuple)) and spec[:1] == ["INT"]


def widget_names(info: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The widget inputs of a class, in ``widgets_values`` order.

    Args:
        info: the class's entry in ``/object_info``.

    Returns:
        ``(input name, followed by a control_after_generate value)`` pairs.
    """
    declared = info.get("input") or {}
    order = info.get("input_order") or {}
    out: list[tuple[str, bool]] = []
    for section in ("required", "optional"):
        specs = declared.get(section) or {}
        for name in order.get(section) or list(specs):
            spec = specs.get(name)
            if _is_widget(spec):
                out.append((name, _has_control(name, spec)))
    return out


def _links(ui: Mapping[str, Any]) -> dict[int, tuple[int, int, str]]:
    """link id → (origin node id, origin output index, type)."""
    out: dict[int, tuple[int, int, str]] = {}
    for i, link in enumerate(ui.get("links") or []):
        if isinstance(link, (list, tuple)) and len(link) >= 6:
            out[int(link[0])] = (int(link[1]), int(link[2]), str(link[5]))
        elif isinstance(link, Mapping) and "id" in link:
            out[int(link["id"])] = (int(link["origin_id"]), int(link["origin_slot"]), str(link.get("type", "*")))
        else:
            raise WorkflowError(BACKEND, f"UI workflow: links[{i}] is not [id, origin, slot, target, slot, type]")
    return out


class _Converter:
    def __init__(self, ui: Mapping[str, Any], object_info: Mapping[str, Any], source: str) -> None:
        self.info = object_info
        self.source = source
        self.links = _links(ui)
        self.nodes: dict[int, Mapping[str, Any]] = {}
        for i, node in enumerate(ui.get("nodes") or []):
            if not isinstance(node, Mapping) or "id" not in node or "type" not in node:
                raise WorkflowError(BACKEND, f"{source}: nodes[{i}] has no id/type")
            self.nodes[int(node["id"])] = node

    def _real(self, node: Mapping[str, Any]) -> bool:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (_MUTED, _BYPASSED):
            return False
        # a class the server does not know, linked to nothing (a label, a note of a custom node pack)
        # is decoration the browser keeps to itself; a linked one is a missing custom node (an error)
        linked = any(i.get("link") is not None for i in node.get("inputs") or []) or any(
            o.get("links") for o in node.get("outputs") or []
        )
        return node["type"] in self.info or linked

    def resolve(self, link_id: int | None, want_type: str) -> Any:
        """What an input linked by ``link_id`` becomes: ``[id, index]``, a primitive's value, or ``None``."""
        seen: set[int] = set()
        while link_id is not None:
            if link_id in seen or link_id not in self.links:
                return None
            seen.add(link_id)
            origin_id, origin_slot, _ = self.links[link_id]
            origin = self.nodes.get(origin_id)
            if origin is None:
                return None
            inputs = origin.get("inputs") or []
            if origin["type"] == "Reroute":
                link_id = inputs[0].get("link") if inputs else None
                continue
            if origin["type"] == "PrimitiveNode":
                values = origin.get("widgets_values") or []
                return values[0] if values else None
            mode = origin.get("mode", 0)
            if mode == _BYPASSED:
                order = [origin_slot, *range(len(inputs))]
                link_id = None
                for index in order:
                    if 0 <= index < len(inputs) and inputs[index].get("type") in (want_type, "*"):
                        link_id = inputs[index].get("link")
                        break
                continue
            if mode == _MUTED or origin["type"] in FRONTEND_ONLY:
                return None
            return [str(origin_id), origin_slot]
        return None

    def node(self, node_id: int, node: Mapping[str, Any]) -> dict[str, Any]:
        class_type = str(node["type"])
        info = self.info.get(class_type)
        if not isinstance(info, Mapping):
            raise WorkflowError(
                BACKEND,
                f"{self.source}: node {node_id} ({node.get('title') or class_type}) is a {class_type}, which the "
                "server's /object_info does not list (a custom node that is not installed?)",
            )
        widgets = widget_names(info)
        linked = {
            str(i.get("widget", {}).get("name") or i.get("name"))
            for i in node.get("inputs") or []
            if i.get("link") is not None
        }
        values = node.get("widgets_values")
        inputs: dict[str, Any] = {}
        if isinstance(values, Mapping):  # some custom nodes save widgets by name
            inputs.update({name: values[name] for name, _ in widgets if name in values})
        else:
            values = list(values or [])
            if len(values) < self._needed(widgets, values):
                widgets = [w for w in widgets if w[0] not in linked]
            pos = 0
            for name, control in widgets:
                if pos >= len(values):
                    break
                inputs[name] = values[pos]
                pos += 1
                if control and pos < len(values) and values[pos] in CONTROL_VALUES:
                    pos += 1
        for entry in node.get("inputs") or []:
            if entry.get("link") is None:
                continue
            name = str(entry.get("widget", {}).get("name") or entry.get("name"))
            value = self.resolve(int(entry["link"]), str(entry.get("type", "*")))
            if value is None:  # the link leads nowhere the server sees: ComfyUI drops the input
                inputs.pop(name, None)
            else:
                inputs[name] = value
        title = node.get("title") or info.get("display_name") or class_type
        return {"inputs": inputs, "class_type": class_type, "_meta": {"title": str(title)}}

    @staticmethod
    def _needed(widgets: list[tuple[str, bool]], values: list[Any]) -> int:
        """How many values the full widget list takes (controls counted where present)."""
        pos = 0
        for _, control in widgets:
            pos += 1
            if control and pos < len(values) and values[pos] in CONTROL_VALUES:
                pos += 1
        return pos

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node_id, node in self.nodes.items():
            if self._real(node):
                out[str(node_id)] = self.node(node_id, node)
        for api in out.values():  # inputs linked to removed nodes go (as graphToPrompt does)
            for name, value in list(api["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] not in out:
                    del api["inputs"][name]
        if not out:
            raise WorkflowError(BACKEND, f"{self.source}: the UI workflow has no node the server would run")
        return out


def ui_to_api(ui: Mapping[str, Any], object_info: Mapping[str, Any], *, source: str = "workflow") -> dict[str, Any]:
    """Convert a UI-format workflow to the API format.

    Args:
        ui: the UI-format workflow (ComfyUI's "Save", or a PNG's ``workflow`` chunk).
        object_info: the server's ``GET /object_info`` answer (class → inputs).
        source: file name for messages.

    Returns:
        The API-format workflow (node id → ``{"inputs", "class_type", "_meta"}``).

    Raises:
        WorkflowError: not a UI workflow, a malformed node or link, subgraphs, or a
            class the server does not have (names the node id and class).
    """
    if not is_ui_format(ui):
        raise WorkflowError(BACKEND, f"{source}: not a UI-format workflow (no 'nodes' and 'links' lists)")
    if (ui.get("definitions") or {}).get("subgraphs"):
        raise WorkflowError(
            BACKEND,
            f"{source}: the workflow uses subgraphs, which storybench does not convert; "
            "unpack them in ComfyUI or export with 'Export (API)'",
        )
    return _Converter(ui, object_info, source).run()
