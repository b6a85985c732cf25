"""The exact request RunPodBackend builds, sent to a worker running under the runpod
SDK's own local API (``--rp_serve_api``), whose handler validates input like worker-comfyui."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from runpod_server import empty_image_builder

from storybench.render.runpod import RunPodBackend, parse_output
from storybench.render.spec import RenderSpec

pytest.importorskip("runpod")

HERE = Path(__file__).resolve().parents[1]  # the tests folder (support scripts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def worker_url(tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log_file = open(log_path, "wb")  # noqa: SIM115  # closed in the finally below, after the worker exits
    env = dict(os.environ, RUNPOD_LOG_LEVEL="ERROR")
    env.pop("RUNPOD_ENDPOINT_ID", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "worker_handler.py"),
            "--rp_serve_api",
            "--rp_api_port",
            str(port),
            "--rp_api_host",
            "127.0.0.1",
            "--rp_log_level",
            "ERROR",
        ],
        cwd=HERE,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                pytest.fail(f"worker exited: {log_path.read_text()[-2000:]}")
            try:
                httpx.get(f"{url}/docs", timeout=1)  # any answer: the server is up
                break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the runpod SDK worker did not start within 45 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()


@pytest.fixture
def built(monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", "unused")
    monkeypatch.setenv("RUNPOD_ENDPOINT_ID", "unused")
    with RunPodBackend(workflow_builder=empty_image_builder) as be:
        yield be


def test_sdk_worker_accepts_the_backend_payload(worker_url, built, tmp_path):
    ref = tmp_path / "sheet.png"
    Image.new("RGB", (40, 40), (0, 200, 0)).save(ref)
    body = built.build_request(
        RenderSpec(prompt="x", seed=5, width=200, height=120, panel_id="p1", reference_images=(str(ref),))
    )
    resp = httpx.post(f"{worker_url}/runsync", content=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 200, resp.text
    job = resp.json()
    assert job["status"] == "COMPLETED", job
    images, errors = parse_output(job["output"])
    assert errors == [] and images[0].filename.endswith(".png")
    img = Image.open(io.BytesIO(images[0].data))
    assert img.size == (200, 120) and img.convert("RGB").getpixel((2, 2)) == (0, 200, 0)


def test_sdk_worker_rejects_a_malformed_payload_like_worker_comfyui(worker_url):
    resp = httpx.post(f"{worker_url}/runsync", json={"input": {"images": [{"name": "a.png"}]}}, timeout=30)
    job = resp.json()
    assert job["status"] == "FAILED" and "Missing 'workflow' parameter" in str(job["error"])
