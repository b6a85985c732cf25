"""The ``ollama`` LLM backend: Ollama's native HTTP API.

Endpoints used (https://github.com/ollama/ollama/blob/main/docs/api.md):

* ``POST /api/chat`` with ``stream: false`` (one JSON answer) or streamed as
  NDJSON, one ``{"message": {"role", "content"}, "done": false}`` object a line
  and a final ``{"done": true, "eval_count": ..., "eval_duration": ...}``;
  ``format`` carries a JSON Schema for structured output; ``options`` carries
  ``temperature``, ``top_p``, ``seed``, ``num_ctx``, ``num_predict``, ``stop``;
  ``keep_alive`` how long the model stays loaded. An unknown model is answered
  ``404 {"error": "model 'x' not found"}``.
* ``POST /api/chat`` with no messages and ``keep_alive: 0`` unloads a model
  (:meth:`OllamaBackend.unload`, called by image backends before a render on a
  shared GPU).
* ``GET /api/tags`` (installed models: :meth:`OllamaBackend.check`) and
  ``GET /api/ps`` (loaded models: :meth:`OllamaBackend.loaded_models`).

The server is ``OLLAMA_HOST`` (``host:port`` or a URL; default
``http://127.0.0.1:11434``); the model ``STORYBENCH_OLLAMA_MODEL`` (default
``llama3.2``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from storybench.config import env_settings
from storybench.exceptions import BackendError, PermanentBackendError, TransientBackendError
from storybench.llm.base import GenerationOptions, Message
from storybench.llm.http import HTTPChatBackend, ModelNotFoundError, normalize_base_url
from storybench.llm.retry import RetryPolicy
from storybench.llm.schema import schema_instruction

__all__ = ["DEFAULT_OLLAMA_HOST", "DEFAULT_OLLAMA_MODEL", "OllamaBackend"]

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_OLLAMA_MODEL = "llama3.2"


def _same_model(wanted: str, installed: str) -> bool:
    """``llama3.2`` names ``llama3.2:latest``; a tagged name must match exactly."""
    if wanted == installed:
        return True
    return ":" not in wanted and installed == f"{wanted}:latest"


class OllamaBackend(HTTPChatBackend):
    """Chat with a model served by Ollama.

    Args:
        model: Ollama model name (``STORYBENCH_OLLAMA_MODEL``, else ``llama3.2``).
        host: server, ``host:port`` or URL (``OLLAMA_HOST``, else ``http://127.0.0.1:11434``).
        options: default sampling options.
        fallback_model: model tried when ``model`` keeps failing or is not pulled.
        num_ctx: context window, tokens (``None``: the model's default).
        keep_alive: how long the model stays loaded after a request, e.g. ``"5m"``,
            seconds as a number, ``0`` to unload at once (``None``: server default).
        retry: retry policy for transient errors (default 3 tries).
        client, transport, timeout: see :class:`~storybench.llm.http.HTTPChatBackend`.

    Attributes:
        last_stats: the statistics of the last finished answer (``eval_count``,
            ``eval_duration`` in nanoseconds, ``prompt_eval_count``, ...).

    Raises:
        ConfigError: ``host`` is not a usable URL.
    """

    name = "ollama"

    def __init__(
        self,
        model: str | None = None,
        *,
        host: str | None = None,
        options: GenerationOptions | None = None,
        fallback_model: str | None = None,
        num_ctx: int | None = None,
        keep_alive: str | float | None = None,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        super().__init__(
            model or env_settings().ollama_model or DEFAULT_OLLAMA_MODEL,
            normalize_base_url(host or env_settings().ollama_host or DEFAULT_OLLAMA_HOST, default_port=11434),
            options=options,
            fallback_model=fallback_model,
            retry=retry,
            client=client,
            transport=transport,
            timeout=timeout,
        )
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        self.last_stats: dict[str, Any] = {}

    def _hint(self, model: str) -> str:
        return f"is `ollama serve` running at {self.base_url}? is the model pulled: `ollama pull {model}`?"

    # -- requests ---------------------------------------------------------------
    def _payload(
        self, model: str, messages: list[Message], options: GenerationOptions, *, stream: bool, fmt: Any = None
    ) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "num_predict": options.max_tokens,
        }
        if options.seed is not None:
            opts["seed"] = options.seed
        if options.stop:
            opts["stop"] = list(options.stop)
        if self.num_ctx:
            opts["num_ctx"] = self.num_ctx
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": stream,
            "options": opts,
        }
        if fmt is not None:
            body["format"] = fmt
        if self.keep_alive is not None:
            body["keep_alive"] = self.keep_alive
        return body

    def _answer(self, body: dict[str, Any], url: str, model: str) -> str:
        if "error" in body:
            raise TransientBackendError(self.name, f"server error: {body['error']}", url=url, hint=self._hint(model))
        message = body.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise PermanentBackendError(
                self.name, f"answer has no message.content: {str(body)[:200]}", url=url, hint=self._hint(model)
            )
        self.last_stats = {k: v for k, v in body.items() if k != "message"}
        return message["content"]

    def _chat_once(self, model: str, payload: dict[str, Any]) -> str:
        url = self._url("/api/chat")
        response = self._send("POST", url, model, json=payload)
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientBackendError(self.name, f"answer is not JSON: {response.text[:200]!r}", url=url) from exc
        return self._answer(body, url, model)

    def _request_complete(self, model: str, messages: list[Message], options: GenerationOptions) -> str:
        return self._chat_once(model, self._payload(model, messages, options, stream=False))

    def _request_json(
        self, model: str, messages: list[Message], schema: dict[str, Any], options: GenerationOptions
    ) -> str:
        grounded = [Message(role="system", content=schema_instruction(schema)), *messages]
        return self._chat_once(model, self._payload(model, grounded, options, stream=False, fmt=schema))

    def _request_stream(self, model: str, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        url = self._url("/api/chat")
        payload = self._payload(model, messages, options, stream=True)
        for line in self._stream_lines(url, model, json=payload):
            if not line.strip():
                continue
            try:
                body = json.loads(line)
            except ValueError as exc:
                raise TransientBackendError(self.name, f"bad NDJSON line: {line[:200]!r}", url=url) from exc
            if "error" in body:
                raise TransientBackendError(
                    self.name, f"server error while streaming: {body['error']}", url=url, hint=self._hint(model)
                )
            content = (body.get("message") or {}).get("content") or ""
            if content:
                yield content
            if body.get("done"):
                self.last_stats = {k: v for k, v in body.items() if k != "message"}
                return
        raise TransientBackendError(self.name, "stream ended before done:true", url=url, hint=self._hint(model))

    # -- model management ---------------------------------------------------------
    def installed_models(self) -> list[str]:
        """Names of the models the server has (``GET /api/tags``), e.g. ``["llama3.2:latest"]``.

        Raises:
            BackendUnavailable: the server cannot be reached.
            BackendError: any other failure.
        """
        url = self._url("/api/tags")
        body = self._send("GET", url, None).json()
        return [m.get("name") or m.get("model") for m in body.get("models", [])]

    def _installed_models(self) -> list[str] | None:
        try:
            return self.installed_models()
        except (BackendError, ValueError):
            return None

    def check(self, model: str | None = None) -> str:
        """Check that the server answers and has ``model`` (default: this backend's).

        Returns:
            the installed name matching ``model`` (e.g. ``"llama3.2:latest"``).

        Raises:
            BackendUnavailable: the server cannot be reached.
            ModelNotFoundError: the model is not pulled; the message lists the installed ones.
        """
        wanted = model or str(self.model)
        installed = self.installed_models()
        for name in installed:
            if _same_model(wanted, name):
                return name
        raise ModelNotFoundError(
            self.name, wanted, url=self._url("/api/tags"), hint=self._hint(wanted), available=installed
        )

    def loaded_models(self) -> list[str]:
        """Names of the models loaded in memory now (``GET /api/ps``).

        Raises:
            BackendError: the server cannot be reached or failed.
        """
        body = self._send("GET", self._url("/api/ps"), None).json()
        return [m.get("name") or m.get("model") for m in body.get("models", [])]

    def unload(self, model: str | None = None) -> bool:
        """Unload ``model`` (default: this backend's) from memory now, freeing its (GPU) memory.

        Sends ``POST /api/chat`` with no messages and ``keep_alive: 0``.

        Returns:
            ``True`` when the server confirmed (``done_reason: "unload"``), ``False``
            when it does not have the model.

        Raises:
            BackendUnavailable: the server cannot be reached.
            BackendError: any other failure.
        """
        wanted = model or str(self.model)
        url = self._url("/api/chat")
        try:
            response = self._send("POST", url, wanted, json={"model": wanted, "messages": [], "keep_alive": 0})
        except ModelNotFoundError:
            return False
        return response.json().get("done_reason") == "unload"
