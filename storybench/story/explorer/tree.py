"""The branch tree's rows and labels (no widgets): what the explorer's tree section shows."""

from __future__ import annotations

from storybench.story.model import Segment, Story

__all__ = ["TreeRow", "node_label", "node_state", "tree_rows"]

TreeRow = tuple[int, Segment, bool, bool]
"""``(depth, segment, on_current_path, is_current)``."""


def tree_rows(story: Story | None) -> list[TreeRow]:
    """Every segment of ``story`` depth-first, flagged when on the current path or current."""
    if story is None:
        return []
    on_path = {s.id for s in story.path()} if story.current_id else set()
    return [(d, s, s.id in on_path, s.id == story.current_id) for d, s in story.walk()]


def node_label(story: Story | None, segment: Segment) -> str:
    """A branch-tree label: the segment id, the number and text of the choice that led
    to it, its version when regenerated, ``…`` when unfinished:
    ``"s004 · 1. Open the letter · v2"``, ``"s001 · Start"``."""
    label = f"{segment.id} · "
    if segment.parent_id is None:
        label += "Start"
    else:
        label += f"{(segment.choice_index or 0) + 1}. {segment.choice_text}"
    version = story.version(segment.id) if story is not None else 1
    if version > 1:
        label += f" · v{version}"
    if segment.unfinished:
        label += " …"
    return label


def node_state(segment: Segment, on_path: bool, is_current: bool) -> str:
    """The node's state in words, for assistive technology and tooltips:
    ``"current segment"``, ``"on the path read"``, ``"read"`` or ``"not read yet"``."""
    if is_current:
        return "current segment"
    if not segment.visited:
        return "not read yet"
    return "on the path read" if on_path else "read"
