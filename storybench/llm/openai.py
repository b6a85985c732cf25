"""The ``openai`` LLM backend: any OpenAI-compatible chat-completions server, through
the official ``openai`` Python client.

``POST {base}/v1/chat/completions`` (llama.cpp's and llama-cpp-python's servers, vLLM,
LM Studio, Ollama's ``/v1``, OpenAI itself); streamed answers are the client's parsed
server-sent events. The client's own retries are off: storybench's retry policy, fallback
model and the error mapping of :mod:`storybench.http_errors` apply on top, and the API key
is redacted from every server text before it reaches an error message.

Structured output asks for ``response_format = {"type": "json_schema",
"json_schema": {"name", "schema", "strict": true}}``; a server that answers 400
or 422 to that (or 500 naming ``response_format``, as llama-cpp-python's server
does) is asked with ``{"type": "json_object", "schema": ...}`` (the
llama-cpp-python form), then plain ``{"type": "json_object"}``, each with the
schema in a system message; the first form that works is remembered.

Settings (through :func:`storybench.config.env_settings`, the key from the environment):

* base URL: ``STORYBENCH_OPENAI_BASE_URL``, else ``OPENAI_BASE_URL``, else
  ``https://api.openai.com/v1`` when ``OPENAI_API_KEY`` is set, else
  ``http://127.0.0.1:8000/v1`` (the default of ``python -m llama_cpp.server``);
  a base with or without the trailing ``/v1`` works.
* API key: ``OPENAI_API_KEY`` (optional for local servers: without it no
  ``Authorization`` header is sent). It is sent as a bearer token and never logged,
  shown in ``repr`` or put in error messages.
* model: ``STORYBENCH_OPENAI_MODEL``, else ``gpt-4o-mini``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai

from storybench.config import env_settings
from storybench.exceptions import BackendError, PermanentBackendError, TransientBackendError
from storybench.http_errors import error_for_status, error_for_transport, redact, server_text
from storybench.llm.base import GenerationOptions, Message
from storybench.llm.http import HTTPChatBackend, ModelNotFoundError, normalize_base_url
from storybench.llm.retry import RetryPolicy
from storybench.llm.schema import schema_instruction

__all__ = ["DEFAULT_OPENAI_MODEL", "SCHEMA_MODES", "OpenAIBackend"]

log = logging.getLogger(__name__)

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
#: the structured-output request forms, tried in this order.
SCHEMA_MODES = ("json_schema", "json_object_schema", "json_object")


def _default_base_url() -> str:
    configured = env_settings().openai_base_url
    if configured:
        return configured
    return "https://api.openai.com/v1" if os.environ.get("OPENAI_API_KEY") else "http://127.0.0.1:8000/v1"


def _rejects_format(exc: openai.APIStatusError) -> bool:
    """Whether the server refused the request's ``response_format``: a 400 or 422,
    or a 500 whose text names it (llama-cpp-python's server answers a request
    validation error with 500)."""
    if exc.status_code in (400, 422):
        return True
    text = exc.response.text
    return exc.status_code == 500 and ("response_format" in text or "json_schema" in text)


def _schema_name(schema: dict[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]
    return name or "answer"


class OpenAIBackend(HTTPChatBackend):
    """Chat with a model behind an OpenAI-compatible server.

    Args:
        model: model name sent in each request (``STORYBENCH_OPENAI_MODEL``, else
            ``gpt-4o-mini``; single-model local servers ignore it).
        base_url: server root, with or without ``/v1`` (default: see module doc).
        options: default sampling options.
        fallback_model: model tried when ``model`` keeps failing or is unknown.
        strict: ``strict`` flag of the ``json_schema`` response format.
        retry: retry policy for transient errors (default 3 tries).
        client: an httpx client for the requests (not closed by :meth:`close`).
        transport: an httpx transport for a client created here (tests pass ``httpx.MockTransport``).
        timeout: seconds or an ``httpx.Timeout`` (default: connect 5 s, read 300 s).

    Attributes:
        last_usage: ``usage`` of the last non-streamed answer (token counts).
        schema_mode: the structured-output form that last worked (one of
            :data:`SCHEMA_MODES`).

    Raises:
        ConfigError: the base URL is not usable.
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        options: GenerationOptions | None = None,
        fallback_model: str | None = None,
        strict: bool = True,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        root = normalize_base_url(base_url or _default_base_url())
        super().__init__(
            model or env_settings().openai_model or DEFAULT_OPENAI_MODEL,
            root,
            options=options,
            fallback_model=fallback_model,
            retry=retry,
            client=client,
            transport=transport,
            timeout=timeout,
        )
        self._api_key = os.environ.get("OPENAI_API_KEY") or None
        v1 = root if root.endswith("/v1") else f"{root}/v1"
        self._endpoint = f"{v1}/chat/completions"
        self._openai = openai.OpenAI(
            api_key=self._api_key or "unused",  # the client insists on one; no key: the header is omitted per request
            base_url=v1,
            max_retries=0,  # storybench's RetryPolicy retries
            http_client=self._client,  # type: ignore[arg-type]  # openai also takes a legacy httpx.Client (openai/_httpx2.py)
        )
        self._no_auth: dict[str, Any] = {} if self._api_key else {"Authorization": openai.Omit()}
        self.strict = strict
        self.schema_mode = SCHEMA_MODES[0]
        self.last_usage: dict[str, Any] = {}

    def _hint(self, model: str) -> str:
        return (
            f"is the OpenAI-compatible server running at {self.base_url} and serving model {model!r}? "
            "is STORYBENCH_OPENAI_BASE_URL (or OPENAI_BASE_URL) right, and OPENAI_API_KEY set if the server needs one?"
        )

    # -- errors -----------------------------------------------------------------
    def _convert(self, exc: BaseException, model: str) -> BackendError:
        """The storybench error for what the openai client raised."""
        url, hint = self._endpoint, self._hint(model)
        if isinstance(exc, openai.APIStatusError):
            text = redact(exc.response.text, self._api_key).lower()
            if exc.status_code == 404 and "model" in text:
                return ModelNotFoundError(self.name, model, url=url, hint=hint)
            status = exc.status_code
            detail = redact(server_text(exc.response.text), self._api_key)
            message = f"HTTP {status} {httpx.codes.get_reason_phrase(status)}: {detail}"
            return error_for_status(self.name, status, message, url=url, hint=hint, headers=dict(exc.response.headers))
        if isinstance(exc, openai.APIConnectionError):  # timeouts included; the httpx error is its cause
            return error_for_transport(self.name, exc.__cause__ or exc, url=url, hint=hint, secret=self._api_key)
        if isinstance(exc, openai.APIError):  # an error event inside a streamed answer
            message = redact(exc.message, self._api_key)[:300]
            return TransientBackendError(self.name, f"server error while streaming: {message}", url=url, hint=hint)
        return PermanentBackendError(
            self.name, f"unreadable answer ({type(exc).__name__}: {redact(str(exc), self._api_key)[:200]})", url=url
        )

    # -- requests ---------------------------------------------------------------
    def _arguments(self, model: str, messages: list[Message], options: GenerationOptions) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
        }
        if options.seed is not None:
            args["seed"] = options.seed
        if options.stop:
            args["stop"] = list(options.stop)
        if self._no_auth:
            args["extra_headers"] = self._no_auth
        return args

    def _create(self, model: str, args: dict[str, Any]) -> str:
        try:
            answer = self._openai.chat.completions.create(stream=False, **args)
        except openai.OpenAIError as exc:
            raise self._convert(exc, model) from exc
        return self._content(answer)

    def _request_complete(self, model: str, messages: list[Message], options: GenerationOptions) -> str:
        return self._create(model, self._arguments(model, messages, options))

    def _request_json(
        self, model: str, messages: list[Message], schema: dict[str, Any], options: GenerationOptions
    ) -> str:
        modes = SCHEMA_MODES[SCHEMA_MODES.index(self.schema_mode) :]
        for index, mode in enumerate(modes):
            args = self._arguments(model, messages, options)
            _ask_for_json(args, mode, schema, self.strict)
            last = index == len(modes) - 1
            try:
                answer = self._openai.chat.completions.create(stream=False, **args)
            except openai.APIStatusError as exc:
                if not last and _rejects_format(exc):
                    log.info("%s: server refused response_format %s; trying the next form", self.name, mode)
                    continue
                raise self._convert(exc, model) from exc  # a 500 of another cause: retried as transient
            except openai.OpenAIError as exc:
                raise self._convert(exc, model) from exc
            self.schema_mode = mode
            return self._content(answer)
        raise AssertionError("unreachable")

    def _content(self, answer: Any) -> str:
        """The text of a chat completion (records its token usage in ``last_usage``)."""
        self.last_usage = answer.usage.model_dump() if answer.usage is not None else {}
        try:
            return answer.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError) as exc:
            raise PermanentBackendError(
                self.name, f"answer has no choices[0].message.content: {str(answer)[:200]!r}", url=self._endpoint
            ) from exc

    def _request_stream(self, model: str, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        finished = False
        try:
            chunks = self._openai.chat.completions.create(stream=True, **self._arguments(model, messages, options))
            for chunk in chunks:
                for choice in chunk.choices or []:
                    content = choice.delta.content if choice.delta is not None else None
                    if content:
                        yield content
                    finished = finished or bool(choice.finish_reason)
        except openai.OpenAIError as exc:
            raise self._convert(exc, model) from exc
        if not finished:
            raise TransientBackendError(
                self.name, "stream ended without [DONE] or finish_reason", url=self._endpoint, hint=self._hint(model)
            )


def _ask_for_json(args: dict[str, Any], mode: str, schema: dict[str, Any], strict: bool) -> None:
    """Add the ``response_format`` of ``mode`` to a request's arguments (and the schema in words
    as a system message where the server cannot take the schema itself)."""
    if mode == "json_schema":
        args["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(schema), "schema": schema, "strict": strict},
        }
        return
    args["messages"].insert(0, {"role": "system", "content": schema_instruction(schema)})
    args["response_format"] = (
        {"type": "json_object", "schema": schema} if mode == "json_object_schema" else {"type": "json_object"}
    )
