"""Retry policy of the HTTP LLM backends: exponential backoff on transient errors.

Only :class:`~storybench.exceptions.TransientBackendError` (and its subclass
:class:`~storybench.exceptions.BackendUnavailable`) is retried: connection errors,
timeouts, 408, 429 and 5xx answers, all converted to those classes at the backend's
edge by :mod:`storybench.http_errors`; a ``Retry-After`` the server sent is waited
for. Permanent errors (other 4xx) are raised at once.
When every try fails the last error itself is raised (it names the backend, the
URL and what to check), so callers catch one ``BackendError`` tree.

Streams are retried only until their first chunk has been yielded: once text
has reached the caller, a retry would repeat it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from storybench.exceptions import TransientBackendError

__all__ = ["DEFAULT_RETRY", "RetryPolicy"]

R = TypeVar("R")


class RetryPolicy:
    """How often and how patiently a transient failure is tried again.

    A server's ``Retry-After`` (:attr:`TransientBackendError.retry_after
    <storybench.exceptions.TransientBackendError.retry_after>`) lengthens the delay
    before the next attempt to what it asked, up to ``max_retry_after``.

    Args:
        tries: total attempts, the first one included (>= 1).
        backoff: first delay between attempts, seconds; doubles each retry.
        max_backoff: longest delay between attempts, seconds.
        max_retry_after: longest delay a server's ``Retry-After`` can ask for, seconds.
    """

    def __init__(
        self, tries: int = 3, backoff: float = 0.5, max_backoff: float = 8.0, max_retry_after: float = 120.0
    ) -> None:
        if tries < 1:
            raise ValueError(f"tries must be >= 1, got {tries}")
        if backoff < 0 or max_backoff < 0 or max_retry_after < 0:
            raise ValueError("backoff, max_backoff and max_retry_after must be >= 0 seconds")
        self.tries = tries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._exponential = wait_exponential(multiplier=backoff, min=backoff, max=max_backoff)

    def __repr__(self) -> str:
        return f"RetryPolicy(tries={self.tries}, backoff={self.backoff}, max_backoff={self.max_backoff})"

    def delay(self, state: RetryCallState) -> float:
        """Seconds to wait before the next attempt: the exponential backoff, or the
        failed attempt's ``retry_after`` (capped at ``max_retry_after``) when longer."""
        wait = float(self._exponential(state))
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, TransientBackendError) and exc.retry_after:
            wait = max(wait, min(exc.retry_after, self.max_retry_after))
        return wait

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(TransientBackendError),
            stop=stop_after_attempt(self.tries),
            wait=self.delay,
            reraise=True,
        )

    def call(self, fn: Callable[[], R]) -> R:
        """``fn()``, tried again on :class:`TransientBackendError`.

        Raises:
            TransientBackendError: the last transient error once every try failed.
            BackendError: any permanent error, at once.
        """
        return self._retrying()(fn)

    def stream(self, factory: Callable[[], Iterator[str]]) -> Iterator[str]:
        """Chunks of ``factory()``; a transient failure before the first chunk starts
        a fresh stream (with backoff), one after it is raised.

        Raises:
            TransientBackendError: the last transient error once every try failed,
                or a failure after text was already yielded.
            BackendError: any permanent error, at once.
        """
        iterator: Iterator[str] | None = None
        head: object = _END

        def first() -> None:
            nonlocal iterator, head
            iterator = iter(factory())
            head = next(iterator, _END)

        self.call(first)
        if iterator is None or not isinstance(head, str):  # an empty stream
            return
        yield head
        yield from iterator


_END = object()


DEFAULT_RETRY = RetryPolicy()
