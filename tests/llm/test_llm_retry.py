"""Retries, fallback and error conversion of the HTTP LLM backends, with httpx.MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import BaseModel, Field

from storybench.exceptions import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    PermanentBackendError,
    StructuredOutputError,
    TransientBackendError,
)
from storybench.llm import LLMBackend, Message
from storybench.llm.fallback import FallbackBackend
from storybench.llm.http import ModelNotFoundError, normalize_base_url
from storybench.llm.ollama import OllamaBackend
from storybench.llm.openai import OpenAIBackend
from storybench.llm.retry import RetryPolicy
from storybench.llm.schema import unbounded_paths

FAST = RetryPolicy(tries=3, backoff=0.0)
ASK = [Message(role="user", content="hello")]
KEY = "sk-test-SECRET-0123456789"


def ollama_ok(text: str = "fine") -> httpx.Response:
    return httpx.Response(200, json={"model": "m", "message": {"role": "assistant", "content": text}, "done": True})


def openai_ok(text: str = "fine") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        },
    )


class Script:
    """A MockTransport handler answering from a list (one entry per request)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.content]


def ollama(script: Script, **kw) -> OllamaBackend:
    return OllamaBackend(
        kw.pop("model", "llama3.2"),
        host="http://gpu-box:11434",
        retry=kw.pop("retry", FAST),
        transport=httpx.MockTransport(script),
        **kw,
    )


# -- retry policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(503, text="busy"),
        httpx.Response(429, json={"error": "slow down"}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_transient_failures_are_retried_then_succeed(failure):
    script = Script(failure, failure, ollama_ok("third time"))
    assert ollama(script).complete(ASK) == "third time"
    assert len(script.requests) == 3


def test_retries_exhausted_raises_last_transient_error_naming_backend_url_and_hint():
    script = Script(httpx.Response(502, text="bad gateway"))
    with pytest.raises(TransientBackendError) as info:
        ollama(script).complete(ASK)
    assert len(script.requests) == 3
    error = info.value
    assert error.backend == "ollama" and error.url == "http://gpu-box:11434/api/chat"
    assert (
        "HTTP 502" in str(error) and "is `ollama serve` running" in str(error) and "ollama pull llama3.2" in str(error)
    )


def test_connection_refused_is_backend_unavailable():
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        ollama(Script(httpx.ConnectError("refused"))).complete(ASK)


def test_4xx_is_permanent_and_not_retried():
    script = Script(httpx.Response(400, json={"error": "invalid options"}))
    with pytest.raises(PermanentBackendError, match="invalid options") as info:
        ollama(script).complete(ASK)
    assert not isinstance(info.value, TransientBackendError)
    assert len(script.requests) == 1


def test_backoff_waits_grow_exponentially(monkeypatch):
    import tenacity.nap

    slept: list[float] = []
    monkeypatch.setattr(tenacity.nap.time, "sleep", slept.append)
    script = Script(httpx.Response(500, json={"error": "x"}))
    with pytest.raises(TransientBackendError):
        ollama(script, retry=RetryPolicy(tries=4, backoff=0.5, max_backoff=1.5)).complete(ASK)
    assert slept == [0.5, 1.0, 1.5]


def test_stream_retried_before_first_chunk_only():
    lines = [
        {"message": {"role": "assistant", "content": "a"}, "done": False},
        {"message": {"role": "assistant", "content": "b"}, "done": False},
        {"message": {"role": "assistant", "content": ""}, "done": True, "eval_count": 2},
    ]
    good = httpx.Response(200, content="\n".join(json.dumps(x) for x in lines).encode())
    script = Script(httpx.Response(500, json={"error": "x"}), good)
    assert list(ollama(script).stream(ASK)) == ["a", "b"]
    assert len(script.requests) == 2

    # an error line after text was yielded is raised, not retried (the text would repeat)
    broken = httpx.Response(200, content=(json.dumps(lines[0]) + "\n" + json.dumps({"error": "runner died"})).encode())
    script = Script(broken, good)
    chunks = []
    with pytest.raises(TransientBackendError, match="runner died"):
        for chunk in ollama(script).stream(ASK):
            chunks.append(chunk)
    assert chunks == ["a"] and len(script.requests) == 1


def test_stream_cut_before_done_is_transient():
    cut = httpx.Response(
        200, content=json.dumps({"message": {"role": "assistant", "content": "a"}, "done": False}).encode()
    )
    with pytest.raises(TransientBackendError, match="before done"):
        list(ollama(Script(cut), retry=RetryPolicy(tries=1)).stream(ASK))


# -- fallback model -------------------------------------------------------------------------


def test_fallback_model_after_transient_failures():
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(503, text="overloaded") if body["model"] == "big" else ollama_ok(f"from {body['model']}")

    script = Script(answer)
    llm = ollama(script, model="big", fallback_model="small")
    assert llm.complete(ASK) == "from small"
    assert [b["model"] for b in script.bodies()] == ["big", "big", "big", "small"]
    assert "".join(llm.stream(ASK)) == "from small"  # one NDJSON line with done:true
    assert [b["model"] for b in script.bodies()][4:] == ["big", "big", "big", "small"]


def test_no_fallback_for_bad_requests():
    script = Script(httpx.Response(400, json={"error": "bad"}))
    with pytest.raises(PermanentBackendError):
        ollama(script, model="big", fallback_model="small").complete(ASK)
    assert [b["model"] for b in script.bodies()] == ["big"]


def test_model_not_found_lists_installed_models():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/tags":
            return httpx.Response(200, json={"models": [{"name": "qwen2.5:7b", "model": "qwen2.5:7b"}]})
        return httpx.Response(404, json={"error": "model 'llama3.2' not found"})

    with pytest.raises(ModelNotFoundError) as info:
        ollama(Script(answer)).complete(ASK)
    assert info.value.available == ["qwen2.5:7b"] and "installed: qwen2.5:7b" in str(info.value)


# -- openai-compatible ----------------------------------------------------------------------


def openai(script: Script, monkeypatch, **kw) -> OpenAIBackend:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("STORYBENCH_OPENAI_BASE_URL", kw.pop("base", "http://llm.local:8080"))
    return OpenAIBackend(kw.pop("model", "qwen"), retry=FAST, transport=httpx.MockTransport(script), **kw)


def test_openai_request_shape_and_key_in_header_only(monkeypatch):
    script = Script(openai_ok("hi"))
    llm = openai(script, monkeypatch)
    assert llm.complete(ASK, seed=3, max_tokens=10, stop=["END"]) == "hi"
    request = script.requests[0]
    assert str(request.url) == "http://llm.local:8080/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert script.bodies()[0] == {
        "model": "qwen",
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 10,
        "stream": False,
        "seed": 3,
        "stop": ["END"],
    }
    assert llm.last_usage["completion_tokens"] == 1
    assert KEY not in repr(llm) and KEY not in repr(vars(llm).get("base_url"))


@pytest.mark.parametrize("base", ["http://llm.local:8080/v1", "http://llm.local:8080/v1/", "llm.local:8080"])
def test_openai_base_url_with_or_without_v1(monkeypatch, base):
    script = Script(openai_ok())
    openai(script, monkeypatch, base=base).complete(ASK)
    assert str(script.requests[0].url) == "http://llm.local:8080/v1/chat/completions"


def test_openai_error_never_contains_the_key(monkeypatch):
    script = Script(
        httpx.Response(
            401, json={"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
        )
    )
    with pytest.raises(PermanentBackendError) as info:
        openai(script, monkeypatch).complete(ASK)
    text = str(info.value)
    assert KEY not in text and "Incorrect API key provided: ***" in text and "OPENAI_API_KEY" in text


def test_openai_sse_stream(monkeypatch):
    events = [
        {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Once"}}]},
        {"choices": [{"index": 0, "delta": {"content": " upon"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + ": keep-alive\n\ndata: [DONE]\n\n"
    script = Script(httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"}))
    assert list(openai(script, monkeypatch).stream(ASK)) == ["Once", " upon"]
    assert script.bodies()[0]["stream"] is True


class Beat(BaseModel):
    caption: str = Field(max_length=40)


def test_openai_json_schema_falls_back_to_json_object_on_400(monkeypatch):
    def answer(request: httpx.Request) -> httpx.Response:
        kind = json.loads(request.content)["response_format"]["type"]
        if kind == "json_schema":
            return httpx.Response(400, json={"error": {"message": "response_format json_schema not supported"}})
        return openai_ok('{"caption": "Rain on neon"}')

    script = Script(answer)
    llm = openai(script, monkeypatch)
    assert llm.structured(ASK, Beat) == Beat(caption="Rain on neon")
    first, second = script.bodies()
    assert first["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Beat", "schema": Beat.model_json_schema(), "strict": True},
    }
    assert second["response_format"] == {"type": "json_object", "schema": Beat.model_json_schema()}
    assert second["messages"][0]["role"] == "system" and "JSON Schema" in second["messages"][0]["content"]
    llm.structured(ASK, Beat)
    assert script.bodies()[2]["response_format"]["type"] == "json_object"  # remembered: no second 400
    assert llm.schema_mode == "json_object_schema"


def test_openai_unrelated_500_during_structured_is_retried_not_a_format_refusal(monkeypatch):
    script = Script(
        httpx.Response(500, json={"error": {"message": "CUDA out of memory"}}), openai_ok('{"caption": "ok"}')
    )
    llm = openai(script, monkeypatch)
    assert llm.structured(ASK, Beat) == Beat(caption="ok")
    assert [b["response_format"]["type"] for b in script.bodies()] == ["json_schema", "json_schema"]
    assert llm.schema_mode == "json_schema"


def test_structured_reasks_with_validation_error_then_gives_up(monkeypatch):
    script = Script(openai_ok('{"caption": "' + "x" * 60 + '"}'))
    with pytest.raises(StructuredOutputError) as info:
        openai(script, monkeypatch).structured(ASK, Beat, attempts=2)
    assert info.value.attempts == 2 and "x" * 60 in info.value.last_output
    reask = script.bodies()[1]["messages"]
    assert reask[-1]["role"] == "user" and "at most 40 characters" in reask[-1]["content"]


def test_openai_5xx_retried(monkeypatch):
    script = Script(httpx.Response(500, json={"error": {"message": "oom"}}), openai_ok("ok"))
    assert openai(script, monkeypatch).complete(ASK) == "ok"
    assert len(script.requests) == 2


def test_injected_client_is_used_and_left_open(monkeypatch):
    script = Script(openai_ok("via client"))
    client = httpx.Client(transport=httpx.MockTransport(script))
    monkeypatch.setenv("STORYBENCH_OPENAI_BASE_URL", "http://x:1")
    llm = OpenAIBackend("m", client=client)
    assert llm.complete(ASK) == "via client"
    llm.close()
    assert not client.is_closed
    client.close()


# -- fallback between backends -------------------------------------------------------------


class Canned(LLMBackend):
    name = "canned"

    def __init__(self, text: str) -> None:
        super().__init__(model="canned")
        self.text = text

    def _complete(self, messages, options):
        return self.text

    def _stream(self, messages, options):
        yield from self.text.split()

    def _complete_json(self, messages, schema, options):
        return json.dumps({"caption": self.text})


def test_fallback_backend_moves_on_after_backend_error():
    down = ollama(Script(httpx.ConnectError("refused")), retry=RetryPolicy(tries=1))
    chain = FallbackBackend(down, Canned("embedded answer"))
    assert chain.complete(ASK) == "embedded answer"
    assert list(chain.stream(ASK)) == ["embedded", "answer"]
    assert chain.structured(ASK, Beat) == Beat(caption="embedded answer")
    assert chain.last_backend.name == "canned"
    with pytest.raises(BackendError):
        FallbackBackend(down).complete(ASK)


# -- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("localhost:11434", "http://localhost:11434"),
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("https://ollama.example.com/", "https://ollama.example.com"),
        ("http://box:8000/v1", "http://box:8000/v1"),
    ],
)
def test_normalize_base_url(value, expected):
    assert normalize_base_url(value, default_port=11434) == expected


def test_normalize_base_url_rejects_empty():
    with pytest.raises(ConfigError):
        normalize_base_url(" ")


def test_unbounded_paths_names_fields_without_limits():
    class Panel(BaseModel):
        caption: str = Field(max_length=80)
        sfx: str
        beats: list[Beat]
        tags: list[str] = Field(max_length=4)

    assert unbounded_paths(Panel.model_json_schema()) == ["$.sfx", "$.beats", "$.tags[]"]


def test_openai_default_base_url_and_model(monkeypatch):
    for name in ("STORYBENCH_OPENAI_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "STORYBENCH_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    local = OpenAIBackend()
    assert (local.base_url, local.model) == ("http://127.0.0.1:8000/v1", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert OpenAIBackend().base_url == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://vllm:8000/v1")
    assert OpenAIBackend().base_url == "http://vllm:8000/v1"
    monkeypatch.setenv("STORYBENCH_OPENAI_BASE_URL", "http://mine:9000")
    monkeypatch.setenv("STORYBENCH_OPENAI_MODEL", "qwen2.5")
    assert (OpenAIBackend().base_url, OpenAIBackend().model) == ("http://mine:9000", "qwen2.5")


@pytest.mark.parametrize(
    "module",
    [
        "storybench.llm.http",
        "storybench.llm.retry",
        "storybench.llm.schema",
        "storybench.llm.ollama",
        "storybench.llm.openai",
        "storybench.llm.llamacpp",
        "storybench.llm.fallback",
    ],
)
def test_public_names_exist(module):
    import importlib

    loaded = importlib.import_module(module)
    assert loaded.__all__ and all(hasattr(loaded, name) for name in loaded.__all__)
