"""The ollama backend against a local stand-in server speaking Ollama's documented API."""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel, Field

from storybench.exceptions import BackendError, BackendUnavailable, TransientBackendError
from storybench.llm import GenerationOptions, Message, get_llm_backend
from storybench.llm.http import ModelNotFoundError
from storybench.llm.ollama import OllamaBackend
from storybench.llm.retry import RetryPolicy

try:
    from ollama_server import FakeOllama
except ImportError:  # tests/ imported as a package
    from tests.ollama_server import FakeOllama

FAST = RetryPolicy(tries=3, backoff=0.0)
ASK = [Message(role="system", content="You write comics."), Message(role="user", content="a cat detective in the rain")]


class Character(BaseModel):
    name: str = Field(max_length=12)
    age: int
    hero: bool


class Cast(BaseModel):
    title: str = Field(max_length=30)
    characters: list[Character] = Field(max_length=3)


@pytest.fixture()
def server():
    with FakeOllama() as srv:
        yield srv


@pytest.fixture()
def llm(server):
    backend = OllamaBackend("llama3.2", host=server.url, retry=FAST, num_ctx=4096, keep_alive="10m")
    yield backend
    backend.close()


def test_complete_sends_documented_request(llm, server):
    text = llm.complete(ASK, temperature=0.2, seed=7, max_tokens=64, stop=["\n\n"])
    assert text == "echo: a cat detective in the rain"
    sent = server.requests[-1]
    assert sent["path"] == "/api/chat" and sent["stream"] is False and sent["model"] == "llama3.2"
    assert sent["messages"] == [
        {"role": "system", "content": "You write comics."},
        {"role": "user", "content": "a cat detective in the rain"},
    ]
    assert sent["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "num_predict": 64,
        "stop": ["\n\n"],
        "num_ctx": 4096,
    }
    assert sent["keep_alive"] == "10m"
    assert llm.last_stats["eval_count"] == 7 and llm.last_stats["done_reason"] == "stop"


def test_stream_yields_ndjson_chunks_as_they_arrive(llm, server):
    start = time.perf_counter()
    stamps, chunks = [], []
    for chunk in llm.stream(ASK):
        stamps.append(time.perf_counter() - start)
        chunks.append(chunk)
    assert "".join(chunks) == "echo: a cat detective in the rain"
    assert len(chunks) == 7
    # the first chunk is in hand well before the last one arrives (the server paces the chunks)
    assert stamps[-1] - stamps[0] > 0.2 * stamps[-1]
    assert stamps[0] < stamps[3] < stamps[-1]
    assert server.requests[-1]["stream"] is True
    assert llm.last_stats["eval_count"] == 7


def test_structured_sends_schema_as_format(llm, server):
    cast = llm.structured(ASK, Cast, max_tokens=200)
    assert isinstance(cast, Cast) and cast.characters[0].name == "Mira"
    sent = server.requests[-1]
    assert sent["format"] == Cast.model_json_schema()
    assert sent["stream"] is False
    assert sent["messages"][0]["role"] == "system" and '"maxLength":30' in sent["messages"][0]["content"]


def test_missing_model_names_it_and_lists_installed(server):
    llm = OllamaBackend("mistral", host=server.url, retry=FAST)
    with pytest.raises(ModelNotFoundError) as info:
        llm.complete(ASK)
    message = str(info.value)
    assert "'mistral' not found" in message and "llama3.2:latest, tinyllama:latest" in message
    assert "ollama pull mistral" in message and server.url in message
    assert sum(r["path"] == "/api/chat" for r in server.requests) == 1  # permanent: no retry
    with pytest.raises(ModelNotFoundError):
        llm.check()
    assert OllamaBackend("llama3.2", host=server.url).check() == "llama3.2:latest"


def test_500_once_is_retried(llm, server):
    server.fail_next = 1
    assert llm.complete(ASK).startswith("echo:")
    assert [r["path"] for r in server.requests] == ["/api/chat", "/api/chat"]
    server.fail_next = 1
    assert "".join(llm.stream(ASK)).startswith("echo:")


def test_500_always_raises_transient_error_with_hint(server):
    server.fail_next = 10
    llm = OllamaBackend("llama3.2", host=server.url, retry=RetryPolicy(tries=2, backoff=0.0))
    with pytest.raises(TransientBackendError) as info:
        llm.complete(ASK)
    assert "llama runner process has terminated" in str(info.value)
    assert "ollama serve" in str(info.value) and "/api/chat" in str(info.value)
    assert server.fail_next == 8


def test_fallback_model_used_when_main_is_missing(server):
    llm = OllamaBackend("mistral", host=server.url, fallback_model="tinyllama", retry=FAST)
    assert llm.complete(ASK).startswith("echo:")
    assert [r["model"] for r in server.requests if r["path"] == "/api/chat"] == ["mistral", "tinyllama"]


def test_unload_and_loaded_models(llm, server):
    assert llm.loaded_models() == []
    llm.complete(ASK)
    assert llm.loaded_models() == ["llama3.2:latest"]
    assert llm.unload() is True
    assert server.requests[-1] == {"path": "/api/chat", "model": "llama3.2", "messages": [], "keep_alive": 0}
    assert llm.loaded_models() == []
    assert llm.unload("not-there") is False


def test_host_from_environment_without_scheme(server, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", server.url.removeprefix("http://"))
    llm = get_llm_backend("ollama", model="llama3.2", options=GenerationOptions(max_tokens=3))
    assert llm.base_url == server.url
    assert llm.complete(ASK) == "echo: a cat"  # num_predict=3 words


def test_unreachable_server_is_backend_unavailable(server):
    url = server.url
    server.__exit__()  # nothing listens there any more
    llm = OllamaBackend("llama3.2", host=url, retry=RetryPolicy(tries=2, backoff=0.0))
    with pytest.raises(BackendUnavailable) as info:
        llm.complete(ASK)
    assert "ollama serve" in str(info.value) and url in str(info.value)
    with pytest.raises(BackendError):
        llm.loaded_models()
