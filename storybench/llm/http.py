"""What the server-backed LLM backends (``ollama``, ``openai``) share on top of their
official clients.

* :func:`normalize_base_url` turns ``host:port`` (as ``OLLAMA_HOST`` often holds)
  into ``http://host:port``.
* Errors follow the one policy of :mod:`storybench.http_errors` plus one LLM rule::

      connect error, DNS, timeouts        -> BackendUnavailable   (retried)
      dropped connection, 5xx, 408, 429   -> TransientBackendError (retried; Retry-After honoured)
      404 naming a model                  -> ModelNotFoundError   (fallback model tried)
      other 4xx                           -> PermanentBackendError

* :class:`HTTPChatBackend` holds the httpx client (injected or owned, handed to the
  official client), the retry policy and the fallback model; subclasses write one
  request per model.

Secrets: an API key passed to :func:`redact` is replaced by ``***`` in every text
taken from a server answer before it goes into an error message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from storybench.exceptions import ConfigError, PermanentBackendError, TransientBackendError
from storybench.http_errors import redact
from storybench.llm.base import GenerationOptions, LLMBackend, Message
from storybench.llm.retry import RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
    "HTTPChatBackend",
    "ModelNotFoundError",
    "normalize_base_url",
    "redact",
]

log = logging.getLogger(__name__)
R = TypeVar("R")

#: connect 5 s; read up to 300 s (a cold model load on a busy GPU can take minutes).
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=5.0)


class ModelNotFoundError(PermanentBackendError):
    """The server does not have the requested model (e.g. not pulled in Ollama).

    Attributes:
        model: the requested model name.
        available: the models the server listed, when it could be asked.
    """

    def __init__(
        self,
        backend: str,
        model: str,
        *,
        url: str | None = None,
        hint: str | None = None,
        available: list[str] | None = None,
    ) -> None:
        self.model = model
        self.available = list(available or [])
        listed = f"; installed: {', '.join(self.available) or 'none'}" if available is not None else ""
        super().__init__(backend, f"model {model!r} not found{listed}", url=url, hint=hint)


def normalize_base_url(value: str, *, default_port: int | None = None) -> str:
    """A base URL with scheme and no trailing slash.

    ``"localhost:11434"`` -> ``"http://localhost:11434"``; ``"0.0.0.0"`` (a bind-all
    address, as ``OLLAMA_HOST`` may hold for the server) -> ``"http://127.0.0.1"``.

    Args:
        value: ``scheme://host[:port][/path]`` or ``host[:port]``.
        default_port: port added when ``value`` has neither scheme nor port.

    Raises:
        ConfigError: empty value or no host.
    """
    text = (value or "").strip()
    if not text:
        raise ConfigError("empty server URL")
    if "://" not in text:
        host = text.split("/", 1)[0]
        if default_port is not None and ":" not in host:
            text = text.replace(host, f"{host}:{default_port}", 1)
        text = "http://" + text
    url = httpx.URL(text)
    if not url.host:
        raise ConfigError(f"server URL {value!r} has no host")
    if url.host == "0.0.0.0":
        url = url.copy_with(host="127.0.0.1")
    return str(url).rstrip("/")


class HTTPChatBackend(LLMBackend):
    """Base of backends that talk to a chat server over HTTP.

    Subclasses set :attr:`name`, write :meth:`_hint` and the three ``_request_*``
    methods (one HTTP exchange for one model); this class adds retries and the
    fallback model.

    Args:
        model: the model to ask.
        base_url: server root, e.g. ``http://127.0.0.1:11434``.
        options: default sampling options.
        fallback_model: a model tried when ``model`` keeps failing (retries exhausted
            on transient errors, or the server does not have ``model``).
        retry: retry policy (default: 3 tries, 0.5 s doubling backoff).
        client: an httpx client to use (not closed by :meth:`close`); its base URL
            is ignored, requests use absolute URLs built from ``base_url``.
        transport: an httpx transport for an owned client (tests pass
            ``httpx.MockTransport``).
        timeout: seconds or an ``httpx.Timeout`` for the owned client.
        headers: extra headers of the owned client.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        options: GenerationOptions | None = None,
        fallback_model: str | None = None,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(model=model, options=options)
        self.base_url = base_url
        self.fallback_model = fallback_model
        self.retry = retry or RetryPolicy()
        self._owns_client = client is None
        self._client = client or httpx.Client(
            transport=transport, timeout=timeout if timeout is not None else DEFAULT_TIMEOUT, headers=headers
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r}, "
            f"fallback_model={self.fallback_model!r})"
        )

    def __enter__(self) -> HTTPChatBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the owned httpx client (an injected one is left open)."""
        if self._owns_client:
            self._client.close()

    # -- subclass hooks -------------------------------------------------------
    def _hint(self, model: str) -> str:
        """What to check when requests for ``model`` fail."""
        raise NotImplementedError

    def _request_complete(self, model: str, messages: list[Message], options: GenerationOptions) -> str:
        raise NotImplementedError

    def _request_stream(self, model: str, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        raise NotImplementedError

    def _request_json(
        self, model: str, messages: list[Message], schema: dict[str, Any], options: GenerationOptions
    ) -> str:
        raise NotImplementedError

    def _installed_models(self) -> list[str] | None:
        """Model names the server has, for a model-not-found message (``None``: unknown)."""
        return None

    # -- retries and fallback ---------------------------------------------------
    def _models(self) -> list[str]:
        models = [str(self.model)]
        if self.fallback_model and self.fallback_model != self.model:
            models.append(self.fallback_model)
        return models

    def _with_fallback(self, attempt: Callable[[str], R]) -> R:
        models = self._models()
        for index, model in enumerate(models):
            try:
                return attempt(model)
            except (TransientBackendError, ModelNotFoundError) as exc:
                if index == len(models) - 1:
                    raise
                log.warning(
                    "%s: model %r failed (%s); trying fallback model %r", self.name, model, exc, models[index + 1]
                )
        raise AssertionError("unreachable")

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        return self._with_fallback(lambda m: self.retry.call(lambda: self._request_complete(m, messages, options)))

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        models = self._models()
        for index, model in enumerate(models):
            started = False
            try:
                for chunk in self.retry.stream(functools.partial(self._request_stream, model, messages, options)):
                    started = True
                    yield chunk
                return
            except (TransientBackendError, ModelNotFoundError) as exc:
                if started or index == len(models) - 1:
                    raise
                log.warning(
                    "%s: model %r failed (%s); trying fallback model %r", self.name, model, exc, models[index + 1]
                )

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        return self._with_fallback(lambda m: self.retry.call(lambda: self._request_json(m, messages, schema, options)))
