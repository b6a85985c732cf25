"""`storybench models` says which chat format each GGUF file will use (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_llm_chat_format import tiny_gguf

from storybench.cli import main
from storybench.llm.chat_format import CHAT_FORMAT_ENV
from storybench.llm.discovery import discover_models


def test_models_lists_each_gguf_with_its_chat_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CHAT_FORMAT_ENV, raising=False)
    models = tmp_path / "models"
    models.mkdir()
    tiny_gguf(models / "gemma-3-1b.gguf", "gemma3", tokens=["<pad>", "<start_of_turn>", "<end_of_turn>"])
    tiny_gguf(models / "qwen-chat.gguf", "qwen2", template="{{ messages }}", tokenizer="gpt2")
    (models / "broken.gguf").write_bytes(b"GGUF\x03\x00")
    env = {"STORYBENCH_MODELS_DIR": str(models)}
    found = {m.label: m for m in discover_models(env=env, home=tmp_path / "home", servers=False)}
    assert found["gemma-3-1b"].chat_format == "gemma (from tokens, system merged)"
    assert found["qwen-chat"].chat_format == "template"
    assert found["broken"].chat_format.startswith("unreadable: ")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORYBENCH_MODELS_DIR", str(models))
    for name in ("OLLAMA_MODELS", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["models", "--no-servers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    gemma = next(line for line in lines if line.startswith("gemma-3-1b"))
    assert gemma.endswith("chat format: gemma (from tokens, system merged)")
    assert next(line for line in lines if line.startswith("qwen-chat")).endswith("chat format: template")
