"""Progress of a planning run: a tqdm bar for notebooks and terminals, a callback for UIs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PlanProgress", "ProgressCallback", "ProgressEvent"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a planning run.

    Attributes:
        stage: ``"characters"``, ``"structure"``, ``"panels"`` or ``"done"``.
        done: steps finished so far (a stage, or one page of stage 3, is a step).
        total: steps known so far (2 + pages once the structure is known).
        message: what just finished, e.g. ``"page 2/5 planned"``.
        seconds: wall time since the run started, seconds.
    """

    stage: str
    done: int
    total: int
    message: str
    seconds: float


ProgressCallback = Callable[[ProgressEvent], None]


class PlanProgress:
    """Reports steps to a tqdm bar (``tqdm.auto``: a widget in notebooks, text in
    terminals) and/or a callback. Either may be off."""

    def __init__(self, show_bar: bool, callback: ProgressCallback | None, clock: Callable[[], float]) -> None:
        self._callback = callback
        self._clock = clock
        self._start = clock()
        self.done = 0
        self.total = 3
        self._bar = None
        if show_bar:
            from tqdm.auto import tqdm  # lazy: in a notebook tqdm.auto loads ipywidgets

            self._bar = tqdm(total=self.total, desc="planning", unit="step", leave=True)

    def set_total(self, total: int) -> None:
        """Change the number of steps (once the page count is known)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def step(self, stage: str, message: str) -> None:
        """One step finished."""
        self.done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(message, refresh=False)
            self._bar.update(1)
        if self._callback is not None:
            self._callback(ProgressEvent(stage, self.done, self.total, message, self._clock() - self._start))

    def close(self, message: str = "done") -> None:
        """The run ended (successfully or not)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._callback is not None and message:
            self._callback(ProgressEvent("done", self.done, self.total, message, self._clock() - self._start))
