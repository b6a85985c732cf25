"""How long the RunPod API has been failing, shared by every thread of one backend.

A RunPod API call that fails with 429/5xx or a network error is an outage, not a failed
attempt: the backend repeats it about once a second. :class:`ApiOutage` remembers when the
API started failing and whether the outage ran past its budget, so every call that meets
the same outage reports the same duration, and logs "unreachable" / "answers again" once.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["ApiOutage"]

log = logging.getLogger(__name__)


class ApiOutage:
    """The state of one API's outage (thread-safe).

    Args:
        budget_seconds: how long failures are tolerated before :meth:`failed` reports the
            outage as expired, seconds.
        lock: the lock to hold while reading or changing the state (the backend's own).
    """

    def __init__(self, budget_seconds: float, lock: threading.Lock) -> None:
        self.budget_seconds = budget_seconds
        self._lock = lock
        self._down_since: tuple[float, float] | None = None  # (monotonic, epoch) of the first failure
        self._expired: float | None = None  # seconds down when the outage ran past the budget

    def failed(self, error: Exception) -> tuple[float, float | None]:
        """Record a failed call.

        Returns:
            ``(since_epoch, expired)``: when the API started failing (seconds since the epoch),
            and how long it had been down when it ran past the budget (``None`` while within it).
        """
        now = time.monotonic()
        with self._lock:
            if self._down_since is None:
                self._down_since = (now, time.time())
                log.warning(
                    "RunPod API unreachable (%s); waiting for it (outage budget %.0f s)", error, self.budget_seconds
                )
            since, since_wall = self._down_since
            if self._expired is None and now - since > self.budget_seconds:
                self._expired = now - since  # every call meeting this outage reports the same text
            return since_wall, self._expired

    def answered(self) -> None:
        """Record a call that got an answer: the outage, if any, is over."""
        with self._lock:
            if self._down_since is not None:
                log.warning("RunPod API answers again after %.0f s", time.monotonic() - self._down_since[0])
                self._down_since, self._expired = None, None

    def down_seconds(self) -> float | None:
        """Seconds the API has been failing, or ``None`` while it answers."""
        down = self._down_since
        return None if down is None else time.monotonic() - down[0]
