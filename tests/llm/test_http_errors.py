"""One mapping from HTTP and websocket failures to storybench errors, used by every HTTP backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Response as WsResponse

from storybench.batch.jobs import call_with_retries
from storybench.exceptions import (
    BackendUnavailable,
    PermanentBackendError,
    RetryExhausted,
    TransientBackendError,
)
from storybench.http_errors import (
    error_for_response,
    error_for_status,
    error_for_transport,
    is_retryable_status,
    retry_after_seconds,
)
from storybench.llm.base import Message
from storybench.llm.ollama import OllamaBackend
from storybench.llm.openai import OpenAIBackend
from storybench.llm.retry import RetryPolicy
from storybench.render.comfyui.errors import http_error, prompt_rejected
from storybench.render.runpod.api import RunPodAPI

URL = "http://127.0.0.1:8188/prompt"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *((s, False) for s in (400, 401, 403, 404, 409, 413, 422)),
        *((s, True) for s in (408, 429, 500, 502, 503, 504, 599)),
    ],
)
def test_one_status_policy(status, retryable):
    assert is_retryable_status(status) is retryable
    expected = TransientBackendError if retryable else PermanentBackendError
    assert type(error_for_status("x", status, "boom")) is expected


def _response(status: int, headers: dict[str, str] | None = None, text: str = "busy") -> httpx.Response:
    return httpx.Response(status, headers=headers, text=text, request=httpx.Request("POST", URL))


def _runpod(status: int, headers: dict[str, str] | None = None) -> BaseException:
    api = RunPodAPI(
        "ep",
        "rp-key",
        base_url="http://127.0.0.1:1/v2",
        transport=httpx.MockTransport(lambda r: httpx.Response(status, headers=headers, text="no")),
    )
    with pytest.raises(Exception) as info:
        api.health()
    return info.value


def _llm(status: int, headers: dict[str, str] | None = None, backend: str = "ollama") -> BaseException:
    transport = httpx.MockTransport(lambda r: httpx.Response(status, headers=headers, json={"error": "no"}))
    once = RetryPolicy(tries=1)
    llm = (
        OllamaBackend("m", host="http://127.0.0.1:1", retry=once, transport=transport)
        if backend == "ollama"
        else OpenAIBackend("m", base_url="http://127.0.0.1:1", retry=once, transport=transport)
    )
    with pytest.raises(Exception) as info:
        llm.complete([Message(role="user", content="hi")])
    return info.value


@pytest.mark.parametrize("status", [408, 429, 500, 503, 400, 409, 422])
def test_every_backend_classifies_a_status_the_same_way(status):
    """ComfyUI once treated 429 as permanent while the LLM and RunPod layers retried it."""
    request = httpx.Request("GET", URL)
    comfy = http_error(httpx.HTTPStatusError("x", request=request, response=_response(status)), URL)
    prompt = prompt_rejected(status, "no", URL)
    expected = TransientBackendError if is_retryable_status(status) else PermanentBackendError
    for error in (comfy, prompt, _runpod(status), _llm(status), _llm(status, backend="openai")):
        assert isinstance(error, expected), error


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None and retry_after_seconds("") is None


def test_retry_after_is_on_the_raised_error_of_every_backend():
    headers = {"Retry-After": "7"}
    error = error_for_response("x", _response(503, headers))
    assert isinstance(error, TransientBackendError) and error.retry_after == 7.0
    assert "HTTP 503 Service Unavailable: busy" in str(error)
    assert _runpod(429, headers).retry_after == 7.0
    assert _llm(429, headers).retry_after == 7.0
    assert _llm(503, headers, backend="openai").retry_after == 7.0
    assert prompt_rejected(503, "busy", URL, httpx.Headers(headers)).retry_after == 7.0
    request = httpx.Request("GET", URL)
    comfy = http_error(httpx.HTTPStatusError("x", request=request, response=_response(429, headers)), URL)
    assert comfy.retry_after == 7.0
    assert error_for_response("x", _response(503)).retry_after is None


def test_transport_and_websocket_failures():
    request = httpx.Request("GET", URL)
    assert type(error_for_transport("x", httpx.ConnectError("refused", request=request))) is BackendUnavailable
    assert type(error_for_transport("x", httpx.ReadTimeout("slow", request=request))) is BackendUnavailable
    dropped = error_for_transport("x", httpx.RemoteProtocolError("peer closed", request=request), url=URL)
    assert type(dropped) is TransientBackendError and dropped.url == URL
    closed = error_for_transport("x", ConnectionClosedError(None, None), detail="reading")
    assert type(closed) is TransientBackendError and "reading: connection failed" in str(closed)
    refused = error_for_transport("x", InvalidStatus(WsResponse(403, "Forbidden", {}, b"")))
    assert type(refused) is PermanentBackendError and "HTTP 403" in str(refused)
    busy = error_for_transport("x", InvalidStatus(WsResponse(503, "Busy", {}, b"")))
    assert type(busy) is TransientBackendError
    assert type(error_for_transport("x", OSError("reset"), connecting=True)) is BackendUnavailable
    secret = error_for_transport("x", OSError("bad key sk-123 used"), secret="sk-123")
    assert "sk-123" not in str(secret) and "***" in str(secret)


def test_llm_retry_waits_what_the_server_asked(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "slow down"}),
            httpx.Response(503, text="busy"),
            httpx.Response(200, json={"model": "m", "message": {"role": "assistant", "content": "ok"}, "done": True}),
        ]
    )
    backend = OllamaBackend(
        "llama3.2",
        host="http://127.0.0.1:1",
        retry=RetryPolicy(tries=3, backoff=0.01, max_backoff=0.02),
        transport=httpx.MockTransport(lambda r: next(answers)),
    )
    assert backend.complete([Message(role="user", content="hi")]) == "ok"
    assert slept[0] == 3.0 and slept[1] < 1.0
    capped = RetryPolicy(tries=2, backoff=0.0, max_retry_after=1.5)

    def hour() -> None:
        raise TransientBackendError("x", "busy", retry_after=3600)

    with pytest.raises(TransientBackendError):
        capped.call(hour)
    assert slept[-1] == 1.5


def test_batch_retries_wait_what_the_server_asked(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)

    def busy() -> None:
        raise TransientBackendError("x", "busy", retry_after=4.0)

    with pytest.raises(RetryExhausted):
        call_with_retries(busy, retries=3, backoff_seconds=0.5)
    assert slept == [4.0, 4.0]
    with pytest.raises(RetryExhausted):
        call_with_retries(
            lambda: (_ for _ in ()).throw(TransientBackendError("x", "b")), retries=2, backoff_seconds=0.5
        )
    assert slept[-1] == 0.5
