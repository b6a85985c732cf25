"""The plan editor's undo history: bounded stacks of (plan, selection, label) steps.

Edits are pure (:mod:`storybench.plan.edits` returns a new plan), so a step keeps the
plan object as it was before the edit, never a copy. Typing in one field commits many
small edits: :meth:`History.record` with the same ``coalesce`` key within
:data:`COALESCE_SECONDS` keeps only the first step, so one Undo takes the whole typing back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from storybench.plan.models import ComicPlan

__all__ = ["COALESCE_SECONDS", "History", "Step"]

#: Edits with the same coalesce key closer together than this (seconds) are one undo step.
COALESCE_SECONDS = 1.5


@dataclass(frozen=True)
class Step:
    """One undoable step: the plan and selection before it, and what it did."""

    plan: ComicPlan
    selection: Any
    label: str


class History:
    """Undo and redo stacks, at most ``limit`` undo steps.

    Args:
        limit: how many undo steps are kept (at least 1); older ones are forgotten.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, limit: int = 100, clock: Any = time.monotonic) -> None:
        self.limit = max(1, limit)
        self._clock = clock
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._last: tuple[str, float] | None = None

    @property
    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone step to redo."""
        return bool(self._redo)

    def clear(self) -> None:
        """Forget every step (another plan was opened)."""
        self._undo.clear()
        self._redo.clear()
        self._last = None

    def record(self, before: Step, coalesce: str | None = None) -> None:
        """Remember the state ``before`` an edit; clears the redo stack.

        Args:
            before: the plan and selection before the edit, and the edit's label.
            coalesce: a key naming the field typed in; the same key again within
                :data:`COALESCE_SECONDS` adds no step.
        """
        now = self._clock()
        last = self._last
        same = coalesce is not None and last is not None and last[0] == coalesce and now - last[1] < COALESCE_SECONDS
        if not same:
            self._undo.append(before)
            del self._undo[: -self.limit]
        self._redo.clear()
        self._last = (coalesce, now) if coalesce else None

    def undo(self, current: Step) -> Step | None:
        """The step to go back to (``current`` goes onto the redo stack), or ``None``."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(Step(current.plan, current.selection, step.label))
        self._last = None
        return step

    def redo(self, current: Step) -> Step | None:
        """The step to go forward to (``current`` goes onto the undo stack), or ``None``."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(Step(current.plan, current.selection, step.label))
        self._last = None
        return step
