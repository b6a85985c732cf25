"""The ``openai`` LLM backend: any OpenAI-compatible chat-completions server.

``POST {base}/v1/chat/completions`` (llama.cpp's and llama-cpp-python's servers,
vLLM, LM Studio, Ollama's ``/v1``, OpenAI itself). Streaming answers are
server-sent events: ``data: {"choices": [{"delta": {"content": "..."}}]}`` lines
ending with ``data: [DONE]``.

Structured output asks for ``response_format = {"type": "json_schema",
"json_schema": {"name", "schema", "strict": true}}``; a server that answers 400
or 422 to that (or 500 naming ``response_format``, as llama-cpp-python's server
does) is asked with ``{"type": "json_object", "schema": ...}`` (the
llama-cpp-python form), then plain ``{"type": "json_object"}``, each with the
schema in a system message; the first form that works is remembered.

Settings come from the environment only:

* base URL: ``STORYBENCH_OPENAI_BASE_URL``, else ``OPENAI_BASE_URL``, else
  ``https://api.openai.com/v1`` when ``OPENAI_API_KEY`` is set, else
  ``http://127.0.0.1:8000/v1`` (the default of ``python -m llama_cpp.server``);
  a base with or without the trailing ``/v1`` works.
* API key: ``OPENAI_API_KEY`` (optional for local servers). It is sent as a
  bearer token and never logged, shown in ``repr`` or put in error messages.
* model: ``STORYBENCH_OPENAI_MODEL``, else ``gpt-4o-mini``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx

from storybench.config import env_settings
from storybench.exceptions import PermanentBackendError, TransientBackendError
from storybench.llm.base import GenerationOptions, Message
from storybench.llm.http import HTTPChatBackend, normalize_base_url, redact
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


def _rejects_format(response: httpx.Response) -> bool:
    """Whether ``response`` refuses the request's ``response_format``: a 400 or 422,
    or a 500 whose text names it (llama-cpp-python's server answers a request
    validation error with 500)."""
    if response.status_code in (400, 422):
        return True
    return response.status_code == 500 and ("response_format" in response.text or "json_schema" in response.text)


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
        client, transport, timeout: see :class:`~storybench.llm.http.HTTPChatBackend`.

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
        self._endpoint = f"{root}/chat/completions" if root.endswith("/v1") else f"{root}/v1/chat/completions"
        self.strict = strict
        self.schema_mode = SCHEMA_MODES[0]
        self.last_usage: dict[str, Any] = {}

    def _hint(self, model: str) -> str:
        return (
            f"is the OpenAI-compatible server running at {self.base_url} and serving model {model!r}? "
            "is STORYBENCH_OPENAI_BASE_URL (or OPENAI_BASE_URL) right, and OPENAI_API_KEY set if the server needs one?"
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _secret(self) -> str | None:
        return self._api_key

    # -- requests ---------------------------------------------------------------
    def _payload(
        self, model: str, messages: list[Message], options: GenerationOptions, *, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
            "stream": stream,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if options.stop:
            body["stop"] = list(options.stop)
        return body

    def _content(self, response: httpx.Response, model: str) -> str:
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise PermanentBackendError(
                self.name,
                f"answer has no choices[0].message.content: {response.text[:200]!r}",
                url=self._endpoint,
                hint=self._hint(model),
            ) from exc
        self.last_usage = body.get("usage") or {}
        return content or ""

    def _request_complete(self, model: str, messages: list[Message], options: GenerationOptions) -> str:
        response = self._send("POST", self._endpoint, model, json=self._payload(model, messages, options, stream=False))
        return self._content(response, model)

    def _request_json(
        self, model: str, messages: list[Message], schema: dict[str, Any], options: GenerationOptions
    ) -> str:
        modes = SCHEMA_MODES[SCHEMA_MODES.index(self.schema_mode) :]
        for index, mode in enumerate(modes):
            payload = self._payload(model, messages, options, stream=False)
            if mode == "json_schema":
                payload["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": _schema_name(schema), "schema": schema, "strict": self.strict},
                }
            else:
                payload["messages"].insert(0, {"role": "system", "content": schema_instruction(schema)})
                payload["response_format"] = (
                    {"type": "json_object", "schema": schema}
                    if mode == "json_object_schema"
                    else {"type": "json_object"}
                )
            last = index == len(modes) - 1
            response = self._send("POST", self._endpoint, model, accept=() if last else (400, 422, 500), json=payload)
            if _rejects_format(response):
                log.info("%s: server refused response_format %s; trying the next form", self.name, mode)
                continue
            self._raise_for(response, self._endpoint, model)  # a 500 of another cause: retried as transient
            self.schema_mode = mode
            return self._content(response, model)
        raise AssertionError("unreachable")

    def _request_stream(self, model: str, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        url = self._endpoint
        finished = False
        for line in self._stream_lines(url, model, json=self._payload(model, messages, options, stream=True)):
            if not line.startswith("data:"):
                continue  # blank separators, ": keep-alive" comments, "event:" lines
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                body = json.loads(data)
            except ValueError as exc:
                raise TransientBackendError(self.name, f"bad server-sent event: {data[:200]!r}", url=url) from exc
            if "error" in body:
                error = body["error"]
                text = error.get("message", error) if isinstance(error, dict) else error
                raise TransientBackendError(
                    self.name,
                    f"server error while streaming: {redact(str(text), self._api_key)[:300]}",
                    url=url,
                    hint=self._hint(model),
                )
            for choice in body.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    yield content
                finished = finished or bool(choice.get("finish_reason"))
        if not finished:
            raise TransientBackendError(
                self.name, "stream ended without [DONE] or finish_reason", url=url, hint=self._hint(model)
            )
