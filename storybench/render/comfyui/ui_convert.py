"""UI-format workflows (what ComfyUI's "Save" writes) converted to the API format.

The UI format is ``{"nodes": [...], "links": [...], "definitions": {"subgraphs": [...]}, ...}``:
each node has ``id``, ``type`` (its class, or the id of a subgraph definition), ``mode``,
``inputs`` (``{"name", "type", "link"}``, ``"widget": {"name"}`` for a widget that takes a link),
``outputs`` and ``widgets_values``; each link is ``[id, origin_id, origin_slot, target_id,
target_slot, type]`` (or the same as an object). The API format is what ``POST /prompt`` takes:
``{node_id: {"class_type", "inputs", "_meta": {"title"}}}``.

The result equals what ComfyUI's frontend queues for the same file (``app.graphToPrompt()``;
``tests/comfyui/test_comfyui_templates.py`` checks every official template against it):

- widget values as :mod:`~storybench.render.comfyui.ui_widgets` reads them (``/object_info``
  order, the ``control_after_generate`` place after a seed whatever it holds, defaults for
  values the file does not have); a link into a widget input wins over the widget;
- ``Reroute`` nodes are removed and their link passed through; a ``PrimitiveNode``'s value
  (first widget value) becomes the input of every node it feeds; ``Note`` and
  ``MarkdownNote`` are dropped, and so is any node of a class the server does not know that
  is linked to nothing (labels and notes of custom node packs); a linked one is an error;
- muted nodes (``mode`` 2) are dropped, and inputs linked to them are removed;
- bypassed nodes (``mode`` 4) are dropped, and a link from one is passed to the bypassed
  node's input of the same type (the input at the link's output index first);
- a subgraph node (its ``type`` is the id of a ``definitions.subgraphs`` entry) is expanded:
  its inner nodes become ``"<subgraph node id>:<inner id>"`` (nested subgraphs chain the ids),
  a link from the subgraph's input node (id ``-10``) takes what feeds the subgraph node's
  input of that name, or the subgraph node's own widget value for it, and a link into its
  output node (id ``-20``) is what the subgraph node's output gives; a muted or bypassed
  subgraph node is dropped like any other node;
- ``_meta.title`` is the node's ``title`` when the user set one, else the class's
  ``display_name`` (:func:`~storybench.render.comfyui.ui_widgets.frontend_title`).

The class information comes from the server's ``GET /object_info``
(:meth:`~storybench.render.comfyui.client.ComfyUIClient.object_info`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.ui_widgets import frontend_title, node_widgets, widget_values

__all__ = ["CONTROL_VALUES", "FRONTEND_ONLY", "is_ui_format", "ui_to_api", "widget_names"]

#: node types that exist only in the browser (never sent to the server).
FRONTEND_ONLY = ("Reroute", "PrimitiveNode", "Note", "MarkdownNote")
#: values of the ``control_after_generate`` widget that follows a seed.
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
_MUTED, _BYPASSED = 2, 4
_SUBGRAPH_IN, _SUBGRAPH_OUT = -10, -20
_LINK_KEYS = ("origin_id", "origin_slot", "target_id", "target_slot")


def is_ui_format(data: Any) -> bool:
    """True for a UI-format workflow (``nodes`` and ``links`` lists)."""
    return isinstance(data, Mapping) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list)


def widget_names(info: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The widget inputs of a class, in ``widgets_values`` order.

    Args:
        info: the class's entry in ``/object_info``.

    Returns:
        ``(input name, followed by a control_after_generate value)`` pairs.
    """
    inputs = {**((info.get("input") or {}).get("required") or {}), **((info.get("input") or {}).get("optional") or {})}
    slots = node_widgets("", info)
    out: list[tuple[str, bool]] = []
    for i, slot in enumerate(slots):
        if slot.name in inputs:
            following = slots[i + 1].name if i + 1 < len(slots) else ""
            out.append((slot.name, following == "control_after_generate"))
    return out


@dataclass(frozen=True)
class _Link:
    origin: int
    slot: int
    target: int
    target_slot: int


def _links(links: Any, where: str) -> dict[int, _Link]:
    """link id → :class:`_Link`, from ``[id, origin, slot, target, slot, type]`` lists or objects."""
    out: dict[int, _Link] = {}
    for i, link in enumerate(links or []):
        if isinstance(link, (list, tuple)) and len(link) >= 6:
            out[int(link[0])] = _Link(int(link[1]), int(link[2]), int(link[3]), int(link[4]))
        elif isinstance(link, Mapping) and all(k in link for k in ("id", *_LINK_KEYS)):
            out[int(link["id"])] = _Link(*(int(link[k]) for k in _LINK_KEYS))
        else:
            raise WorkflowError(
                BACKEND, f"UI workflow: {where}links[{i}] is not [id, origin, slot, target, slot, type]"
            )
    return out


@dataclass(frozen=True)
class _Literal:
    """A value an input resolves to (a primitive's or a subgraph widget's), not a link."""

    value: Any


#: an input fed through a subgraph input that nothing feeds: the inner widget keeps its value.
_KEEP = object()


@dataclass
class _Graph:
    """The top graph or one expanded subgraph node."""

    nodes: dict[int, Mapping[str, Any]]
    links: dict[int, _Link]
    prefix: str = ""
    parent: _Graph | None = None
    instance: Mapping[str, Any] = field(default_factory=dict)
    inputs: list[Mapping[str, Any]] = field(default_factory=list)
    promoted: dict[int, Any] = field(default_factory=dict)

    def output_link(self, slot: int) -> int | None:
        """The inner link that gives this subgraph's output ``slot``."""
        for link_id, link in self.links.items():
            if link.target == _SUBGRAPH_OUT and link.target_slot == slot:
                return link_id
        return None


def _nodes(data: Mapping[str, Any], where: str) -> dict[int, Mapping[str, Any]]:
    nodes: dict[int, Mapping[str, Any]] = {}
    for i, node in enumerate(data.get("nodes") or []):
        if not isinstance(node, Mapping) or "id" not in node or "type" not in node:
            raise WorkflowError(BACKEND, f"{where}nodes[{i}] has no id/type")
        nodes[int(node["id"])] = node
    return nodes


def _definitions(ui: Mapping[str, Any], source: str) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for i, sub in enumerate((ui.get("definitions") or {}).get("subgraphs") or []):
        if not isinstance(sub, Mapping) or not all(isinstance(sub.get(k), list) for k in ("nodes", "links", "inputs")):
            raise WorkflowError(
                BACKEND, f"{source}: definitions.subgraphs[{i}] is not a subgraph (no nodes, links and inputs lists)"
            )
        found[str(sub.get("id"))] = sub
    return found


def _feeds_widget(inner: Mapping[int, Mapping[str, Any]], targets: set[int], link_ids: set[Any]) -> bool:
    """True when one of ``link_ids`` enters an inner node's widget input."""
    entries = [e for node_id in targets for e in inner.get(node_id, {}).get("inputs") or []]
    return any(e.get("widget") and e.get("link") in link_ids for e in entries)


def _promoted(definition: Mapping[str, Any], instance: Mapping[str, Any]) -> dict[int, Any]:
    """Subgraph input index → the subgraph node's widget value for it. A subgraph input that
    feeds an inner widget input is a widget of the subgraph node, in input order (no control)."""
    targets: dict[int, set[int]] = {}
    for link in _links(definition.get("links"), "subgraph ").values():
        if link.origin == _SUBGRAPH_IN:
            targets.setdefault(link.slot, set()).add(link.target)
    inner = _nodes(definition, "subgraph ")
    widget_inputs = [
        index
        for index, sub_input in enumerate(definition.get("inputs") or [])
        if _feeds_widget(inner, targets.get(index, set()), set(sub_input.get("linkIds") or []))
    ]
    values = instance.get("widgets_values")
    return dict(zip(widget_inputs, values if isinstance(values, list) else [], strict=False))


def _input_name(entry: Mapping[str, Any]) -> str:
    """The prompt input a UI input entry feeds (a widget's name for a widget turned input)."""
    return str((entry.get("widget") or {}).get("name") or entry.get("name"))


def _put(inputs: dict[str, Any], name: str, value: Any) -> None:
    """Set input ``name`` to what its link resolved to (see :meth:`_Converter.resolve`)."""
    if value is None:  # the link leads nowhere the server sees: ComfyUI drops the input
        inputs.pop(name, None)
    elif isinstance(value, _Literal):
        inputs[name] = {"__value__": value.value} if isinstance(value.value, list) else value.value
    elif value is not _KEEP:
        inputs[name] = value


class _Converter:
    def __init__(self, ui: Mapping[str, Any], object_info: Mapping[str, Any], source: str) -> None:
        self.info = object_info
        self.source = source
        self.definitions = _definitions(ui, source)
        self.top = _Graph(_nodes(ui, f"{source}: "), _links(ui.get("links"), ""))
        self.children: dict[str, _Graph] = {}

    def child(self, g: _Graph, node_id: int) -> _Graph:
        """The expanded graph of subgraph node ``node_id`` of ``g``."""
        prefix = f"{g.prefix}{node_id}:"
        if prefix not in self.children:
            instance = g.nodes[node_id]
            definition = self.definitions[str(instance["type"])]
            self.children[prefix] = _Graph(
                _nodes(definition, f"{self.source}: subgraph {definition.get('name', '')!r} "),
                _links(definition.get("links"), "subgraph "),
                prefix,
                g,
                instance,
                list(definition.get("inputs") or []),
                _promoted(definition, instance),
            )
        return self.children[prefix]

    def _real(self, node: Mapping[str, Any]) -> bool:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (_MUTED, _BYPASSED):
            return False
        # a class the server does not know, linked to nothing (a label, a note of a custom node pack)
        # is decoration the browser keeps to itself; a linked one is a missing custom node (an error)
        linked = any(i.get("link") is not None for i in node.get("inputs") or []) or any(
            o.get("links") for o in node.get("outputs") or []
        )
        return node["type"] in self.info or linked

    # ---------------------------------------------------------------- following links
    def _from_subgraph_input(self, g: _Graph, index: int) -> tuple[_Graph, int | None, Any]:
        """What feeds input ``index`` of subgraph ``g``: the parent's link, or a value."""
        name = g.inputs[index].get("name") if 0 <= index < len(g.inputs) else None
        entry = next((e for e in g.instance.get("inputs") or [] if e.get("name") == name), None)
        if entry is not None and entry.get("link") is not None and g.parent is not None:
            return g.parent, int(entry["link"]), None
        if index in g.promoted:
            return g, None, _Literal(g.promoted[index])
        return g, None, _KEEP if entry is None else None

    @staticmethod
    def _bypassed(node: Mapping[str, Any], slot: int, want_type: str) -> int | None:
        """The link a bypassed node passes on: its input of the wanted type (index ``slot`` first)."""
        inputs = node.get("inputs") or []
        for index in [slot, *range(len(inputs))]:
            if 0 <= index < len(inputs) and inputs[index].get("type") in (want_type, "*"):
                link = inputs[index].get("link")
                return None if link is None else int(link)
        return None

    def _step(self, g: _Graph, link: _Link, want_type: str) -> tuple[_Graph, int | None, Any]:
        """One step up a link: ``(graph, next link, None)`` to go on, or ``(graph, None, result)``."""
        if link.origin == _SUBGRAPH_IN:
            return self._from_subgraph_input(g, link.slot)
        origin = g.nodes.get(link.origin)
        if origin is None:
            return g, None, None
        kind, mode = str(origin["type"]), origin.get("mode", 0)
        if kind in ("Reroute", "PrimitiveNode"):
            return self._frontend_node(g, origin)
        if mode == _BYPASSED:
            return g, self._bypassed(origin, link.slot, want_type), None
        if mode == _MUTED or kind in FRONTEND_ONLY:
            return g, None, None
        if kind in self.definitions:
            inner = self.child(g, link.origin)
            return inner, inner.output_link(link.slot), None
        return g, None, [f"{g.prefix}{link.origin}", link.slot]

    @staticmethod
    def _frontend_node(g: _Graph, origin: Mapping[str, Any]) -> tuple[_Graph, int | None, Any]:
        """A ``Reroute`` passes its input's link on; a ``PrimitiveNode`` gives its value."""
        if origin["type"] == "Reroute":
            inputs = origin.get("inputs") or []
            return g, (inputs[0].get("link") if inputs else None), None
        values = origin.get("widgets_values") or []
        return g, None, (_Literal(values[0]) if values else None)

    def resolve(self, g: _Graph, link_id: int | None, want_type: str) -> Any:
        """What an input linked by ``link_id`` becomes: ``[id, index]``, a :class:`_Literal`,
        :data:`_KEEP` or ``None`` (the input is dropped)."""
        seen: set[tuple[str, int]] = set()
        result: Any = None
        while link_id is not None:
            if (g.prefix, link_id) in seen or link_id not in g.links:
                return None
            seen.add((g.prefix, link_id))
            g, link_id, result = self._step(g, g.links[link_id], want_type)
        return result

    # ---------------------------------------------------------------- nodes
    def node(self, g: _Graph, node_id: int, node: Mapping[str, Any]) -> dict[str, Any]:
        """The API-format entry of one node of ``g``."""
        class_type = str(node["type"])
        info = self.info.get(class_type)
        if not isinstance(info, Mapping):
            raise WorkflowError(
                BACKEND,
                f"{self.source}: node {g.prefix}{node_id} ({node.get('title') or class_type}) is a {class_type}, "
                "which the server's /object_info does not list (a custom node that is not installed?)",
            )
        entries = [e for e in node.get("inputs") or [] if e.get("link") is not None]
        linked = frozenset(_input_name(e) for e in entries)
        inputs = widget_values(class_type, info, node.get("widgets_values"), linked)
        for entry in entries:
            _put(inputs, _input_name(entry), self.resolve(g, int(entry["link"]), str(entry.get("type", "*"))))
        title = node.get("title") or frontend_title(class_type, info)
        return {"inputs": inputs, "class_type": class_type, "_meta": {"title": str(title)}}

    def emit(self, g: _Graph, out: dict[str, Any]) -> None:
        """Add the nodes of ``g`` (subgraph nodes expanded) to ``out``."""
        for node_id, node in g.nodes.items():
            if str(node["type"]) in self.definitions:
                if node.get("mode", 0) not in (_MUTED, _BYPASSED):
                    self.emit(self.child(g, node_id), out)
            elif self._real(node):
                out[f"{g.prefix}{node_id}"] = self.node(g, node_id, node)

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.emit(self.top, out)
        for api in out.values():  # inputs linked to removed nodes go (as graphToPrompt does)
            for name, value in list(api["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] not in out:
                    del api["inputs"][name]
        if not out:
            raise WorkflowError(BACKEND, f"{self.source}: the UI workflow has no node the server would run")
        return out


def ui_to_api(ui: Mapping[str, Any], object_info: Mapping[str, Any], *, source: str = "workflow") -> dict[str, Any]:
    """Convert a UI-format workflow to the API format, as ComfyUI's frontend does.

    Args:
        ui: the UI-format workflow (ComfyUI's "Save", or a PNG's ``workflow`` chunk).
        object_info: the server's ``GET /object_info`` answer (class → inputs).
        source: file name for messages.

    Returns:
        The API-format workflow (node id → ``{"inputs", "class_type", "_meta"}``); nodes of
        subgraphs have ids ``"<subgraph node id>:<inner id>"``.

    Raises:
        WorkflowError: not a UI workflow, a malformed node, link or subgraph definition, or a
            class the server does not have (names the node id and class).
    """
    if not is_ui_format(ui):
        raise WorkflowError(BACKEND, f"{source}: not a UI-format workflow (no 'nodes' and 'links' lists)")
    return _Converter(ui, object_info, source).run()
