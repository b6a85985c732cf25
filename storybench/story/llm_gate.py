"""One story's access to its LLM, with the reader's requests first.

Embedded models are not re-entrant, so one request at a time goes to a story's LLM.
The segment the reader waits for must not queue behind work done in the background
(an illustration prompt, a prefetched continuation): :class:`LLMGate` has two ways in.

* :meth:`LLMGate.urgent` (the segment writer): waits only for the request in progress;
  while it waits, :meth:`LLMGate.preempted` is true, and background work that streams
  checks it between chunks and gives the LLM up at once.
* :meth:`LLMGate.background` (illustration prompts, the structured choices re-ask of a
  prefetch): waits until no urgent request is waiting or running, then goes in.

Both are re-entrant for the thread holding the gate (the writer asks for choices
while it holds it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["LLMGate"]


class LLMGate:
    """A re-entrant lock with urgent and background entries (see the module doc)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

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
                while self._owner is not None or self._urgent_waiting:
                    self._cond.wait()
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
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    def _take(self, me: int) -> None:
        self._owner = me
        self._depth += 1

    def _release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()
