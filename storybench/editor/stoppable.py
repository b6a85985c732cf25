"""An LLM wrapper that the plan editor's Stop (and the kernel's Interrupt) can stop.

The planner makes a handful of long JSON-constrained requests. :class:`StoppableLLM`
runs each request of the wrapped backend in a worker thread and waits for either its
answer or the stop event, so :meth:`StoppableLLM.stop` ends the planning within a
fraction of a second (:class:`~storybench.exceptions.Cancelled` is raised in the
planner) and no further request is made. A request already inside the backend cannot
be interrupted there: it finishes in its thread and its answer is dropped (an embedded
llama.cpp model stays busy until then). Streams stop at their next chunk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from storybench.exceptions import Cancelled
from storybench.llm.base import GenerationOptions, LLMBackend, Message

__all__ = ["StoppableLLM"]

T = TypeVar("T")
_POLL = 0.05  # seconds between checks of the stop event


class StoppableLLM(LLMBackend):
    """Wraps ``inner`` so every request can be abandoned with :meth:`stop`.

    Args:
        inner: the backend doing the work.
        event: the stop event (a new one when ``None``).
    """

    def __init__(self, inner: LLMBackend, event: threading.Event | None = None) -> None:
        super().__init__(inner.model, inner.options)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # reports and errors name the real backend
        self.event = event or threading.Event()

    def stop(self) -> None:
        """Abandon the request in progress and refuse new ones (they raise ``Cancelled``)."""
        self.event.set()

    def _wait(self, work: Callable[[], T]) -> T:
        if self.event.is_set():
            raise Cancelled("plan generation stopped")
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(work())
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=run, daemon=True, name="stoppable-llm").start()
        while True:
            try:
                return fut.result(timeout=_POLL)
            except TimeoutError:
                if self.event.is_set():
                    raise Cancelled("plan generation stopped") from None

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        return self._wait(lambda: self.inner._complete(messages, options))

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        return self._wait(lambda: self.inner._complete_json(messages, schema, options))

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        if self.event.is_set():
            raise Cancelled("plan generation stopped")
        for chunk in self.inner._stream(messages, options):
            if self.event.is_set():
                raise Cancelled("plan generation stopped")
            yield chunk

    def close(self) -> None:
        """Nothing: the wrapped backend belongs to the caller."""
