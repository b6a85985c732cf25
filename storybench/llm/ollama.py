"""The ``ollama`` LLM backend: Ollama through the official ``ollama`` Python client.

The client speaks Ollama's API (https://github.com/ollama/ollama/blob/main/docs/api.md):
``POST /api/chat`` (one JSON answer, or NDJSON chunks when streamed), ``format`` with
a JSON Schema for structured output, ``options`` (``temperature``, ``top_p``, ``seed``,
``num_ctx``, ``num_predict``, ``stop``), ``keep_alive``, and ``think``; ``GET /api/tags``
(installed models) and ``GET /api/ps`` (loaded models). On top of it this backend keeps
storybench's own rules: the retry policy and the fallback model
(:class:`~storybench.llm.http.HTTPChatBackend`), the error mapping of
:mod:`storybench.http_errors` (an unknown model, ``404 {"error": "model 'x' not found"}``,
becomes :class:`~storybench.llm.http.ModelNotFoundError` listing the installed ones), and
the JSON Schema repeated in a system message for structured answers.

Thinking models (qwen3, deepseek-r1, ...) are sent ``think: false`` by default, so story
text is the answer only; with ``think=True`` the reasoning arrives in
``message.thinking``, which is kept in :attr:`OllamaBackend.last_thinking` and never
mixed into the text.

Unloading a model (``POST /api/chat`` with no messages and ``keep_alive: 0``,
:meth:`OllamaBackend.unload`) is one plain request: the client's ``chat`` always adds
fields that this documented unload request does not carry.

The server is ``OLLAMA_HOST`` (``host:port`` or a URL; default ``http://127.0.0.1:11434``);
the model ``STORYBENCH_OLLAMA_MODEL`` (default ``llama3.2``), both through
:func:`storybench.config.env_settings`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import httpx
import ollama
from pydantic import ValidationError

from storybench.config import env_settings
from storybench.exceptions import BackendError, PermanentBackendError, TransientBackendError
from storybench.http_errors import error_for_status, error_for_transport
from storybench.llm.base import GenerationOptions, Message
from storybench.llm.discovery import ollama_hint
from storybench.llm.http import DEFAULT_TIMEOUT, HTTPChatBackend, ModelNotFoundError, normalize_base_url
from storybench.llm.retry import RetryPolicy
from storybench.llm.schema import schema_instruction

__all__ = ["DEFAULT_OLLAMA_HOST", "DEFAULT_OLLAMA_MODEL", "OllamaBackend"]

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_OLLAMA_MODEL = "llama3.2"

Think = bool | Literal["low", "medium", "high"] | None


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
        think: Ollama's ``think``: ``False`` (default: answer only, also on thinking
            models), ``True`` or a level (``"low"``/``"medium"``/``"high"``) to let a
            thinking model reason first (its reasoning goes to :attr:`last_thinking`),
            ``None`` to leave it to the server. A model without thinking refuses
            ``True`` with a 400 (a :class:`~storybench.exceptions.PermanentBackendError`).
        retry: retry policy for transient errors (default 3 tries).
        transport: an httpx transport for every request (tests pass ``httpx.MockTransport``).
        timeout: seconds or an ``httpx.Timeout`` (default: connect 5 s, read 300 s).

    Attributes:
        last_stats: the statistics of the last finished answer (``eval_count``,
            ``eval_duration`` in nanoseconds, ``prompt_eval_count``, ``done_reason``, ...).
        last_thinking: the reasoning of the last answer when ``think`` let the model think.

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
        think: Think = False,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        env = env_settings()
        super().__init__(
            model or env.ollama_model or DEFAULT_OLLAMA_MODEL,
            normalize_base_url(host or env.ollama_host or DEFAULT_OLLAMA_HOST, default_port=11434),
            options=options,
            fallback_model=fallback_model,
            retry=retry,
            transport=transport,
            timeout=timeout,
        )
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        self.think = think
        self.last_stats: dict[str, Any] = {}
        self.last_thinking = ""
        self._errors = threading.local()  # headers of the last error answer on this thread (Retry-After)
        timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self._ollama = ollama.Client(
            host=self.base_url,
            transport=transport,
            timeout=timeout,
            event_hooks={"response": [self._remember_error]},
        )

    def close(self) -> None:
        """Close the connections of this backend."""
        super().close()
        self._ollama.close()

    def _hint(self, model: str) -> str:
        return ollama_hint(self.base_url, model)

    # -- errors -----------------------------------------------------------------
    def _remember_error(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            self._errors.headers = dict(response.headers)

    def _convert(self, exc: BaseException, path: str, model: str | None) -> BackendError:
        """The storybench error for what the ollama client (or httpx under it) raised."""
        url = f"{self.base_url}{path}"
        hint = self._hint(model or str(self.model))
        if isinstance(exc, ollama.ResponseError):
            text = str(exc.error)
            if exc.status_code < 0:  # an {"error": ...} line inside a streamed answer
                return TransientBackendError(self.name, f"server error while streaming: {text}", url=url, hint=hint)
            if exc.status_code == 404 and model is not None and "model" in text.lower():
                installed = self._installed_models()
                return ModelNotFoundError(self.name, model, url=url, hint=hint, available=installed)
            reason = httpx.codes.get_reason_phrase(exc.status_code)
            headers = getattr(self._errors, "headers", None)  # set by the response hook of this thread
            message = f"HTTP {exc.status_code} {reason}: {text}"
            return error_for_status(self.name, exc.status_code, message, url=url, hint=hint, headers=headers)
        if isinstance(exc, ValidationError):
            return PermanentBackendError(self.name, f"answer does not have Ollama's shape: {exc}", url=url, hint=hint)
        if isinstance(exc, ValueError):
            return TransientBackendError(self.name, f"answer is not JSON: {exc}", url=url, hint=hint)
        # the client turns httpx.ConnectError into ConnectionError without a cause: connecting failed
        connecting = type(exc) is ConnectionError
        return error_for_transport(self.name, exc, url=url, hint=hint, connecting=connecting)

    # -- requests ---------------------------------------------------------------
    def _options(self, options: GenerationOptions) -> dict[str, Any]:
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
        return opts

    def _chat(self, model: str, messages: list[Message], options: GenerationOptions, fmt: Any = None) -> str:
        try:
            answer = self._ollama.chat(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=False,
                think=self.think,
                format=fmt,
                options=self._options(options),
                keep_alive=self.keep_alive,
            )
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            raise self._convert(exc, "/api/chat", model) from exc
        self._finished(answer)
        return answer.message.content or ""

    def _finished(self, answer: ollama.ChatResponse) -> None:
        self.last_stats = answer.model_dump(exclude={"message"}, exclude_none=True)
        self.last_thinking = answer.message.thinking or ""

    def _request_complete(self, model: str, messages: list[Message], options: GenerationOptions) -> str:
        return self._chat(model, messages, options)

    def _request_json(
        self, model: str, messages: list[Message], schema: dict[str, Any], options: GenerationOptions
    ) -> str:
        grounded = [Message(role="system", content=schema_instruction(schema)), *messages]
        return self._chat(model, grounded, options, fmt=schema)

    def _request_stream(self, model: str, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        thinking: list[str] = []
        try:
            chunks = self._ollama.chat(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                think=self.think,
                options=self._options(options),
                keep_alive=self.keep_alive,
            )
            for chunk in chunks:
                if chunk.message.thinking:
                    thinking.append(chunk.message.thinking)
                if chunk.message.content:
                    yield chunk.message.content
                if chunk.done:
                    self._finished(chunk)
                    self.last_thinking = "".join(thinking)
                    return
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            raise self._convert(exc, "/api/chat", model) from exc
        raise TransientBackendError(
            self.name, "stream ended before done:true", url=f"{self.base_url}/api/chat", hint=self._hint(model)
        )

    # -- model management ---------------------------------------------------------
    def installed_models(self) -> list[str]:
        """Names of the models the server has (``GET /api/tags``), e.g. ``["llama3.2:latest"]``.

        Raises:
            BackendUnavailable: the server cannot be reached.
            BackendError: any other failure.
        """
        try:
            listed = self._ollama.list()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            raise self._convert(exc, "/api/tags", None) from exc
        return [m.model for m in listed.models if m.model]

    def _installed_models(self) -> list[str] | None:
        try:
            return self.installed_models()
        except BackendError:
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
            self.name, wanted, url=f"{self.base_url}/api/tags", hint=self._hint(wanted), available=installed
        )

    def loaded_models(self) -> list[str]:
        """Names of the models loaded in memory now (``GET /api/ps``).

        Raises:
            BackendError: the server cannot be reached or failed.
        """
        try:
            running = self._ollama.ps()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            raise self._convert(exc, "/api/ps", None) from exc
        return [m.model for m in running.models if m.model]

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
        try:
            response = self._client.post(
                f"{self.base_url}/api/chat", json={"model": wanted, "messages": [], "keep_alive": 0}
            )
        except httpx.HTTPError as exc:
            raise self._convert(exc, "/api/chat", wanted) from exc
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise self._convert(ollama.ResponseError(response.text, response.status_code), "/api/chat", wanted)
        answer: Mapping[str, Any] = response.json()
        return answer.get("done_reason") == "unload"
