"""The RunPod deployment kit: script syntax, model sets, a real download from a local mirror."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

KIT = Path(__file__).resolve().parents[2] / "deploy" / "runpod"
SCRIPT = KIT / "download_models.sh"
FP8 = {
    "diffusion_models/flux1-kontext-dev-fp8.safetensors",
    "text_encoders/clip_l.safetensors",
    "text_encoders/t5xxl_fp8_e4m3fn.safetensors",
    "vae/ae.safetensors",
}


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env, check=check
    )


def test_script_parses_and_refuses_what_it_does_not_know():
    """Valid bash; --help prints the usage; an unknown argument or a flag without its value exits 2."""
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True, timeout=30)
    assert "Usage: download_models.sh [--set NAME]" in run("--help").stdout
    bad = run("--bogus", check=False)
    assert bad.returncode == 2 and "unknown argument: --bogus (see --help)" in bad.stderr
    missing = run("--dest", check=False)
    assert missing.returncode != 0 and "--dest needs a folder" in missing.stderr


def test_sets_list_the_template_model_files():
    out = run("--list").stdout
    kontext = out.split("kontext-fp8:")[1].split("kontext-full:")[0]
    assert {line.split()[0].removeprefix("models/") for line in kontext.strip().splitlines()} == FP8
    assert "flux1-kontext-dev.safetensors" in out and "t5xxl_fp16.safetensors" in out  # the full-precision set
    bad = run("--set", "nope", check=False)
    assert bad.returncode == 2 and "unknown model set: nope" in bad.stderr


def test_dry_run_skips_files_already_present(tmp_path):
    (tmp_path / "models" / "vae").mkdir(parents=True)
    (tmp_path / "models" / "vae" / "ae.safetensors").write_bytes(b"x")
    out = run("--dry-run", "--dest", str(tmp_path), "--set", "kontext-fp8").stdout
    assert "have   models/vae/ae.safetensors" in out
    assert out.count("would  ") == 3 and not (tmp_path / "models" / "diffusion_models").exists()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_downloads_from_a_mirror_with_the_token_in_a_header_only(tmp_path):
    seen: list[tuple[str, str | None]] = []

    class Mirror(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = "hf_SECRET_token_123"
        env = {
            "PATH": "/usr/bin:/bin",
            "HF_TOKEN": token,
            "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        }
        done = run("--dest", str(tmp_path), "--set", "kontext-fp8", env=env)
    finally:
        server.shutdown()
        server.server_close()
    files = {str(p.relative_to(tmp_path / "models")) for p in (tmp_path / "models").rglob("*") if p.is_file()}
    assert files == FP8
    kontext = (tmp_path / "models/diffusion_models/flux1-kontext-dev-fp8.safetensors").read_text()
    assert (
        kontext == "/Comfy-Org/flux1-kontext-dev_ComfyUI/resolve/main"
        "/split_files/diffusion_models/flux1-dev-kontext_fp8_scaled.safetensors"
    )
    assert len(seen) == 4 and all(auth == f"Bearer {token}" for _, auth in seen)
    assert token not in done.stdout + done.stderr


def test_extra_model_paths_cover_volume_and_pod():
    paths = yaml.safe_load((KIT / "extra_model_paths.yaml").read_text())
    bases = {section["base_path"] for section in paths.values()}
    assert bases == {"/runpod-volume", "/workspace"}
    for section in paths.values():
        for kind in ("diffusion_models", "text_encoders", "vae"):
            assert f"models/{kind}/" in section[kind]


def test_dockerfile_builds_on_worker_comfyui_base():
    text = (KIT / "Dockerfile").read_text()
    assert "FROM runpod/worker-comfyui:${WORKER_COMFYUI_VERSION}-base" in text
    assert "COPY extra_model_paths.yaml /comfyui/extra_model_paths.yaml" in text
    assert "--mount=type=secret,id=hf_token" in text  # the token never lands in a layer
