"""Ollama's ``think``: story text never carries a thinking model's reasoning."""

from __future__ import annotations

import pytest

from storybench.exceptions import PermanentBackendError
from storybench.llm import Message
from storybench.llm.ollama import OllamaBackend
from storybench.llm.retry import RetryPolicy

try:
    from ollama_server import FakeOllama
except ImportError:  # tests/ imported as a package
    from tests.ollama_server import FakeOllama

ASK = [Message(role="user", content="a cat detective in the rain")]
FAST = RetryPolicy(tries=3, backoff=0.0)


@pytest.fixture()
def server():
    with FakeOllama(thinking_models=("qwen3:latest",)) as srv:
        yield srv


def test_think_false_by_default_so_a_thinking_model_answers_only(server):
    with OllamaBackend("qwen3", host=server.url, retry=FAST) as llm:
        assert llm.complete(ASK) == "echo: a cat detective in the rain"
        assert server.requests[-1]["think"] is False and llm.last_thinking == ""
        assert "".join(llm.stream(ASK)) == "echo: a cat detective in the rain"
        assert server.requests[-1]["think"] is False
    with OllamaBackend("llama3.2", host=server.url, retry=FAST) as plain:  # ignored by models without thinking
        assert plain.complete(ASK) == "echo: a cat detective in the rain"


def test_reasoning_is_kept_out_of_the_text(server):
    with OllamaBackend("qwen3", host=server.url, retry=FAST, think=True) as llm:
        text = llm.complete(ASK)
        assert text == "echo: a cat detective in the rain" and "detective story" not in text
        assert llm.last_thinking == "The reader wants a detective story."
        chunks = list(llm.stream(ASK))
        assert "".join(chunks) == "echo: a cat detective in the rain" and all("reader" not in c for c in chunks)
        assert llm.last_thinking == "The reader wants a detective story."
        assert server.requests[-1]["think"] is True


def test_think_on_a_model_without_thinking_is_permanent(server):
    llm = OllamaBackend("llama3.2", host=server.url, retry=FAST, think=True)
    with llm, pytest.raises(PermanentBackendError, match="does not support thinking"):
        llm.complete(ASK)
    assert sum(r["path"] == "/api/chat" for r in server.requests) == 1
