"""One story's access to its LLM, with the reader's requests first.

Embedded models are not re-entrant, so one request at a time goes to a story's LLM.
The segment the reader waits for must not queue behind work done in the background
(an illustration prompt, a prefetched continuation): :class:`LLMGate` has two ways in.

* :meth:`LLMGate.urgent` (the segment writer): waits only for the request in progress;
  while it waits, :meth:`LLMGate.preempted` is true, and background work that streams
  checks it between chunks and gives the LLM up at once.
* :meth:`LLMGate.background` (illustration prompts, prefetching, titles): waits until no
  urgent request is waiting or running and the last one ended ``settle_s`` seconds ago,
  then goes in. The pause matters because a request's prompt evaluation cannot be
  interrupted: background work started right after a segment would sit in front of the
  reader's click on one of its choices for that long.

Both are re-entrant for the thread holding the gate (the writer asks for choices
while it holds it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

__all__ = ["LLMGate"]


class LLMGate:
    """A re-entrant lock with urgent and background entries (see the module doc).

    Args:
        settle_s: seconds background work waits after an urgent request ended.
    """

    def __init__(self, settle_s: float = 0.0) -> None:
        self.settle_s = settle_s
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0
        self._urgent_held = False
        self._urgent_ended = float("-inf")

    def preempted(self) -> bool:
        """Whether an urgent request is waiting for the gate (background work should give it up)."""
        return self._urgent_waiting > 0

    def urgent(self) -> LLMGate:
        """The gate itself as a context manager: ``with gate.urgent():`` holds it, before
        every background request that waits."""
        return self

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        """Hold the gate once no urgent request waits for it."""
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                while (wait := self._background_wait()) is not None:
                    self._cond.wait(wait)
            self._take(me)
        try:
            yield
        finally:
            self._release()

    # ``with gate:`` is the urgent entry (code written for a plain lock gets it)
    def __enter__(self) -> LLMGate:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                self._urgent_waiting += 1
                try:
                    while self._owner is not None:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            self._take(me)
            self._urgent_held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    def _background_wait(self) -> float | None:
        """``None`` when background work may go in now, else the seconds to wait before looking again."""
        if self._owner is not None or self._urgent_waiting:
            return 1.0  # woken by notify_all on release; the timeout only bounds a missed wake-up
        rest = self._urgent_ended + self.settle_s - time.monotonic()
        return rest if rest > 0 else None

    def _take(self, me: int) -> None:
        self._owner = me
        self._depth += 1

    def _release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                if self._urgent_held:
                    self._urgent_held, self._urgent_ended = False, time.monotonic()
                self._cond.notify_all()
