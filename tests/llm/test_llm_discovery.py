"""Model discovery: Ollama's store (manifests → blobs), LM Studio, the Hugging Face cache,
STORYBENCH_MODELS_DIR, servers (Ollama /api/tags, OpenAI /v1/models) and `storybench models`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from storybench.cli import main
from storybench.llm.discovery import (
    BUILTIN_HINT,
    HINT_OLLAMA_MODEL,
    OLLAMA_MODEL_MEDIA_TYPE,
    discover,
    discover_models,
    ollama_hint,
)
from storybench.llm.ollama import DEFAULT_OLLAMA_MODEL

GGUF = b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64


def fake_ollama_store(root: Path, name: str = "qwen2.5", tag: str = "7b", namespace: str = "library") -> Path:
    digest = hashlib.sha256(f"{namespace}/{name}:{tag}".encode()).hexdigest()
    blob = root / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(GGUF)
    (root / "blobs" / f"sha256-{'cd' * 32}").write_bytes(b'{"template": "..."}')
    manifest = root / "manifests" / "registry.ollama.ai" / namespace / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "layers": [
                    {"mediaType": "application/vnd.ollama.image.template", "digest": f"sha256:{'cd' * 32}"},
                    {"mediaType": OLLAMA_MODEL_MEDIA_TYPE, "digest": f"sha256:{digest}", "size": len(GGUF)},
                ],
            }
        )
    )
    return blob


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    fake_ollama_store(h / ".ollama" / "models")
    fake_ollama_store(h / ".ollama" / "models", name="tinyllama", tag="latest", namespace="someone")
    lm = h / ".lmstudio" / "models" / "lmstudio-community" / "Mistral-7B-GGUF"
    lm.mkdir(parents=True)
    (lm / "mistral-7b.Q4_K_M.gguf").write_bytes(GGUF)
    (lm / "mmproj-model-f16.gguf").write_bytes(GGUF)  # a vision projector, not a chat model
    snap = h / ".cache" / "huggingface" / "hub" / "models--bartowski--Llama-3.2-3B-GGUF" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "Llama-3.2-3B-Q4.gguf").write_bytes(GGUF)
    (snap / "part-00002-of-00002.gguf").write_bytes(GGUF)  # only the first file of a split model
    return h


def test_files_are_found_where_writers_keep_them(home: Path, tmp_path: Path) -> None:
    models_dir = tmp_path / "mine"
    models_dir.mkdir()
    (models_dir / "story-13b.gguf").write_bytes(GGUF)
    (models_dir / "not-a-model.gguf").write_bytes(b"<html>oops</html>")
    found = discover_models(env={"STORYBENCH_MODELS_DIR": str(models_dir)}, home=home, servers=False)
    by_label = {m.label: m for m in found}
    assert by_label["qwen2.5:7b"].source == "ollama store"
    qwen = by_label["qwen2.5:7b"]
    assert qwen.model.endswith("sha256-" + hashlib.sha256(b"library/qwen2.5:7b").hexdigest())
    assert qwen.backend == "llamacpp" and Path(qwen.model).read_bytes()[:4] == b"GGUF"
    assert "someone/tinyllama:latest" in by_label
    assert by_label["mistral-7b.Q4_K_M"].source == "lm studio"
    assert by_label["bartowski/Llama-3.2-3B-GGUF/Llama-3.2-3B-Q4.gguf"].source == "hugging face cache"
    assert by_label["story-13b"].source == "STORYBENCH_MODELS_DIR"
    assert not any("mmproj" in m.label or "not-a-model" in m.label or "00002" in m.label for m in found)
    assert found[-1].builtin and "tiny test model" in found[-1].label


def test_servers_are_asked_over_http(home: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/api/tags":
            return httpx.Response(200, json={"models": [{"name": "llama3.1:8b", "size": 4_900_000_000}]})
        if request.url.path == "/v1/models":
            assert request.headers["authorization"] == "Bearer sk-test"
            return httpx.Response(200, json={"object": "list", "data": [{"id": "qwen2.5-14b-instruct"}]})
        return httpx.Response(404)

    env = {
        "OLLAMA_HOST": "127.0.0.1:11500",
        "STORYBENCH_OPENAI_BASE_URL": "http://127.0.0.1:1234",
        "OPENAI_API_KEY": "sk-test",
    }
    found = discover_models(env=env, home=home, transport=httpx.MockTransport(handler))
    assert found[0].backend == "ollama" and found[0].model == "llama3.1:8b" and found[0].size_bytes == 4_900_000_000
    assert found[1].backend == "openai" and found[1].model == "qwen2.5-14b-instruct"
    assert seen == ["http://127.0.0.1:11500/api/tags", "http://127.0.0.1:1234/v1/models"]


def test_a_server_that_does_not_answer_is_skipped(home: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    found = discover_models(env={}, home=home, transport=httpx.MockTransport(handler))
    assert {m.backend for m in found} == {"llamacpp"}


def test_models_command(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    models_dir = tmp_path / "mine"
    models_dir.mkdir()
    (models_dir / "story-13b.gguf").write_bytes(GGUF)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("STORYBENCH_MODELS_DIR", str(models_dir))
    for name in ("OLLAMA_MODELS", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["models", "--no-servers"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5:7b" in out and "ollama store" in out and "story-13b" in out and "tiny test model" in out
    assert main(["models", "--no-servers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"backend", "model", "label", "source", "size_bytes", "builtin"} <= set(rows[0])


def test_servers_that_do_not_answer_are_reported(home: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 1234:
            return httpx.Response(503)
        raise httpx.ConnectError("refused", request=request)

    env = {"OLLAMA_HOST": "127.0.0.1:11500", "STORYBENCH_OPENAI_BASE_URL": "http://127.0.0.1:1234"}
    result = discover(env=env, home=home, transport=httpx.MockTransport(handler))
    assert [(p.kind, p.url, p.error) for p in result.servers] == [
        ("ollama", "http://127.0.0.1:11500", "connection refused"),
        ("openai", "http://127.0.0.1:1234", "HTTP 503"),
    ]
    lines = [p.describe() for p in result.servers]
    assert "not reachable (connection refused); start it with `ollama serve`" in lines[0]


def test_models_command_names_the_ollama_server_it_could_not_reach(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # the discard port: nothing answers
    for name in ("STORYBENCH_OPENAI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["models", "--timeout", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "Ollama server at http://127.0.0.1:9: not reachable" in out and "ollama serve" in out


def test_the_hints_name_the_same_model_and_storybench_models() -> None:
    assert HINT_OLLAMA_MODEL == DEFAULT_OLLAMA_MODEL
    assert f"ollama pull {DEFAULT_OLLAMA_MODEL}" in BUILTIN_HINT and "storybench models" in BUILTIN_HINT
    hint = ollama_hint("http://127.0.0.1:11434", DEFAULT_OLLAMA_MODEL)
    assert f"ollama pull {DEFAULT_OLLAMA_MODEL}" in hint and "storybench models" in hint
