"""An API-format workflow as a graph: links, consumers, upstream and downstream walks.

A node input holding ``[source_id, output_index]`` is a link (ComfyUI's API format);
anything else is a literal value.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from storybench.render.comfyui.slot_rules import Candidate

__all__ = ["WorkflowGraph", "is_link"]


def is_link(value: Any) -> TypeGuard[list[Any]]:
    """True for a link value ``[source_id, output_index]``."""
    return (
        isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) and isinstance(value[1], int)
    )


class WorkflowGraph:
    """Nodes, their inputs and who consumes each node's outputs; walks up and down the links."""

    def __init__(self, workflow: Mapping[str, Any]) -> None:
        self.nodes: dict[str, Mapping[str, Any]] = {str(k): v for k, v in workflow.items()}
        self.consumers: dict[str, list[tuple[str, str]]] = {nid: [] for nid in self.nodes}
        for nid, node in self.nodes.items():
            for name, value in (node.get("inputs") or {}).items():
                if is_link(value) and str(value[0]) in self.consumers:
                    self.consumers[str(value[0])].append((nid, name))

    def cls(self, nid: str) -> str:
        """The node's class_type."""
        return str(self.nodes[nid].get("class_type", ""))

    def inputs(self, nid: str) -> Mapping[str, Any]:
        """The node's inputs (name → literal or link)."""
        return self.nodes[nid].get("inputs") or {}

    def title(self, nid: str) -> str:
        """The node's title (``_meta.title``), ``""`` when none."""
        return str((self.nodes[nid].get("_meta") or {}).get("title", ""))

    def candidate(self, nid: str) -> Candidate:
        """The node as a :class:`Candidate` (id, class, title)."""
        return Candidate(nid, self.cls(nid), self.title(nid))

    def source(self, nid: str, name: str) -> str | None:
        """Id of the node linked into input ``name`` of ``nid``, ``None`` for a literal or a dangling link."""
        value = self.inputs(nid).get(name)
        if not is_link(value):
            return None
        source = str(value[0])
        return source if source in self.nodes else None

    def downstream(self, start: str) -> set[str]:
        """``start`` and every node its outputs reach."""
        seen, todo = {start}, [start]
        while todo:
            for target, _ in self.consumers[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def upstream(self, start: str, names: Iterable[str] | None = None) -> list[str]:
        """Nodes upstream of ``start`` breadth-first, following only ``names`` inputs when given."""
        wanted = None if names is None else set(names)
        order, seen, todo = [], {start}, deque([start])
        while todo:
            nid = todo.popleft()
            for name, value in self.inputs(nid).items():
                if wanted is not None and name not in wanted:
                    continue
                if is_link(value) and str(value[0]) in self.nodes and str(value[0]) not in seen:
                    seen.add(str(value[0]))
                    order.append(str(value[0]))
                    todo.append(str(value[0]))
        return order

    def literal_input(self, nid: str, names: Iterable[str]) -> tuple[str, str] | None:
        """``(node, input)`` holding the first of ``names`` on ``nid``; a link to a primitive
        node (one literal input) is followed to that node."""
        for name in names:
            value = self.inputs(nid).get(name)
            if value is None:
                continue
            if not is_link(value):
                return nid, name
            src = str(value[0])
            if src in self.nodes:
                literals = [k for k, v in self.inputs(src).items() if not is_link(v)]
                if len(literals) == 1:
                    return src, literals[0]
        return None
