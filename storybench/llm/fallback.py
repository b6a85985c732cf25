"""A backend that tries other backends in order, e.g. Ollama first, the embedded model next.

Within one server backend, ``fallback_model=`` already switches models; this
chains whole backends::

    llm = FallbackBackend(OllamaBackend("llama3.2"), LlamaCppBackend())
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from storybench.exceptions import BackendError
from storybench.llm.base import GenerationOptions, LLMBackend, Message

__all__ = ["FallbackBackend"]

log = logging.getLogger(__name__)


class FallbackBackend(LLMBackend):
    """Ask each backend in turn until one answers.

    Any :class:`~storybench.exceptions.BackendError` of a backend (after its own
    retries) moves on to the next one; the last backend's error is raised. A stream
    moves on only if it failed before its first chunk.

    Args:
        backends: the backends, most preferred first (at least one).
        options: default sampling options (each request's options are passed on).

    Raises:
        ValueError: no backend given.
    """

    name = "fallback"

    def __init__(self, *backends: LLMBackend, options: GenerationOptions | None = None) -> None:
        if not backends:
            raise ValueError("FallbackBackend needs at least one backend")
        super().__init__(model=backends[0].model, options=options or backends[0].options)
        self.backends = list(backends)
        #: the backend that answered last (``None`` before the first answer).
        self.last_backend: LLMBackend | None = None

    def __repr__(self) -> str:
        return f"FallbackBackend({', '.join(repr(b) for b in self.backends)})"

    def _each(self, call: Any) -> Any:
        for index, backend in enumerate(self.backends):
            try:
                result = call(backend)
            except BackendError as exc:
                if index == len(self.backends) - 1:
                    raise
                log.warning("LLM backend %s failed (%s); trying %s", backend.name, exc, self.backends[index + 1].name)
                continue
            self.last_backend = backend
            return result
        raise AssertionError("unreachable")

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        return self._each(lambda b: b._complete(messages, options))

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        return self._each(lambda b: b._complete_json(messages, schema, options))

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        for index, backend in enumerate(self.backends):
            started = False
            try:
                for chunk in backend._stream(messages, options):
                    if not started:
                        started = True
                        self.last_backend = backend
                    yield chunk
                return
            except BackendError as exc:
                if started or index == len(self.backends) - 1:
                    raise
                log.warning("LLM backend %s failed (%s); trying %s", backend.name, exc, self.backends[index + 1].name)

    def close(self) -> None:
        """Close every backend."""
        for backend in self.backends:
            backend.close()
