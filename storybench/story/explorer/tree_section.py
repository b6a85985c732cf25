"""The explorer's branch tree: one button per segment, indented by depth, in a collapsible section.

A node's state is in its CSS classes (``sb-story-node-current``, ``-path``,
``-unvisited``) for the eye, in its tooltip in words ("current segment", "not read
yet") and, through the app's :class:`~storybench.ui_kit.aria.AriaBridge` and
:data:`TREE_RULES`, as ``aria-current`` on the current node for assistive technology.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from storybench.story.explorer.model import ExplorerModel
from storybench.story.explorer.settings_section import classed
from storybench.story.explorer.tree import node_state
from storybench.ui_kit.aria import AriaRule
from storybench.ui_kit.collapsible import Collapsible

__all__ = ["TREE_RULES", "TreeSection"]

#: The current node is ``aria-current="step"`` (WAI-ARIA 1.2: the current step of a process).
TREE_RULES = (AriaRule(".sb-story-node", ".sb-story-node-current", "aria-current", "step"),)


class TreeSection(Collapsible):
    """The branch tree.

    Args:
        model: the explorer model.
        on_goto: called with a segment id when its node is pressed.
    """

    def __init__(self, model: ExplorerModel, on_goto: Callable[[str], Any]) -> None:
        self.model = model
        self._on_goto = on_goto
        self.tree = classed(w.VBox([]), "sb-story-tree")
        self.buttons: list[w.Button] = []
        super().__init__("Branches", self.tree, expanded=True)
        self.add_class("sb-story-tree-box")

    def update(self) -> None:
        """Redraw every node."""
        m = self.model
        self.buttons = []
        for depth, node, on_path, is_current in m.tree():
            state = node_state(node, on_path, is_current)
            b = w.Button(
                description=m.node_label(node)[:70],
                tooltip=f"{state[0].upper()}{state[1:]}: {node.text[:200]}",
                layout=w.Layout(width="auto", margin=f"0 0 0 {min(depth, 12) * 1.2}em"),
            )
            classed(b, "sb-story-node")
            if on_path:
                b.add_class("sb-story-node-path")
            if is_current:
                b.add_class("sb-story-node-current")
            if not node.visited:
                b.add_class("sb-story-node-unvisited")
            b.on_click(lambda _, sid=node.id: self._on_goto(sid))
            self.buttons.append(b)
        self.tree.children = tuple(self.buttons)
