"""API keys stay in the environment: a render through the CLI (papermill) with each
remote backend (local RunPod and Runware servers) and with the storyboard backend
leaves the key in no output file (executed notebook, catalog, run.json, PNG/PDF/CBZ,
cache, logs) and in none of the command's output.

(The CLI refusing ``-p api_key ...`` is covered in tests/test_cli.py.)
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from plan_factory import plan_dict
from runpod_server import RunPodSim

from storybench.batch import read_catalog_table

ROOT = Path(__file__).parents[2]
RUNPOD_KEY = "rp-SECRET-4f1c9a7e2b6d8035"
RUNWARE_KEY = "rw-SECRET-9d2e7b1a6c4f0358"
OTHER_KEYS = {"OPENAI_API_KEY": "sk-SECRET-77aa11bb22cc33dd", "HF_TOKEN": "hf_SECRET_0a1b2c3d4e5f6a7b"}
SMALL = [
    "-p",
    "page_width",
    "600",
    "-p",
    "page_height",
    "900",
    "-p",
    "panel_max_side",
    "256",
    "-p",
    "margin",
    "20",
    "-p",
    "gutter",
    "10",
    "-p",
    "show_thumbnails",
    "false",
]


def write_plan(tmp_path: Path, plan_id: str) -> Path:
    path = tmp_path / f"{plan_id}.json"
    path.write_text(json.dumps(plan_dict(("grid-2x2",), plan_id=plan_id)), encoding="utf-8")
    return path


def start_cli(plan: Path, out: Path, backend: str, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, Path]:
    """Start ``storybench render`` (verbose) in a subprocess; its stdout/stderr go to files next to ``out``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "RUNWARE_", "STORYBENCH_"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    logs = out.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout.txt", "wb") as stdout, open(logs / "stderr.txt", "wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "storybench",
                "render",
                str(plan),
                "--backend",
                backend,
                "--output-dir",
                str(out),
                "-v",
                *SMALL,
                *extra,
            ],
            stdout=stdout,
            stderr=stderr,
            env=full_env,
            cwd=str(out.parent),
        )
    return proc, logs


def finish_cli(proc: subprocess.Popen, logs: Path) -> subprocess.CompletedProcess:
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(
        proc.args, code, (logs / "stdout.txt").read_text(), (logs / "stderr.txt").read_text()
    )


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """The three CLI renders, run at once (each is mostly kernel start-up): name ->
    (output dir, finished process, what the backend's server received)."""
    names = ("runpod", "runware", "storyboard")
    dirs = {n: tmp_path_factory.mktemp(f"secret-{n}") for n in names}
    plans = {n: write_plan(dirs[n], f"secret-{n}") for n in names}
    runware = importlib.import_module("runware_server") if _has_runware() else None
    started: dict[str, tuple[subprocess.Popen, Path]] = {}
    results: dict = {}
    with RunPodSim(workers=2, job_seconds=0.03, api_key=RUNPOD_KEY) as sim:
        env = {
            "RUNPOD_API_KEY": RUNPOD_KEY,
            "RUNPOD_ENDPOINT_ID": sim.endpoint_id,
            "STORYBENCH_RUNPOD_BASE_URL": sim.root,
            **OTHER_KEYS,
        }
        started["runpod"] = start_cli(
            plans["runpod"],
            dirs["runpod"] / "out",
            "runpod",
            env,
            "-p",
            "backend_options",
            '{"poll_interval": 0.02, "max_poll_interval": 0.05}',
        )
        env = {"RUNPOD_API_KEY": RUNPOD_KEY, "RUNWARE_API_KEY": RUNWARE_KEY, **OTHER_KEYS}
        started["storyboard"] = start_cli(plans["storyboard"], dirs["storyboard"] / "out", "storyboard", env)
        server = runware.RunwareSim(api_key=RUNWARE_KEY, job_seconds=0.02) if runware else None
        if server is not None:
            with server:
                env = {"RUNWARE_API_KEY": RUNWARE_KEY, "STORYBENCH_RUNWARE_URL": server.url, **OTHER_KEYS}
                started["runware"] = start_cli(plans["runware"], dirs["runware"] / "out", "runware", env)
                results["runware"] = (dirs["runware"] / "out", finish_cli(*started["runware"]), list(server.received))
        results["runpod"] = (dirs["runpod"] / "out", finish_cli(*started["runpod"]), list(sim.requests))
    results["storyboard"] = (dirs["storyboard"] / "out", finish_cli(*started["storyboard"]), [])
    return results


def _has_runware() -> bool:
    try:
        import runware  # noqa: F401
    except ImportError:
        return False
    return True


def texts_of(path: Path) -> list[tuple[str, bytes]]:
    """``(where, bytes)`` for a file and for what it holds in compressed form
    (zip members, PNG text chunks, catalog cells)."""
    data = path.read_bytes()
    found = [(str(path), data)]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            found += [(f"{path}!{n}", zf.read(n)) for n in zf.namelist()]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            found.append((f"{path} (PNG text)", repr(img.info).encode()))
    if path.suffix == ".parquet":
        found.append((f"{path} (rows)", repr(read_catalog_table(path.parent).to_pylist()).encode()))
    return found


def assert_no_secret(out: Path, proc: subprocess.CompletedProcess, secrets: list[str]) -> int:
    """Grep every file under ``out`` and the command's output; returns how many files were read."""
    files = [p for p in out.rglob("*") if p.is_file()]
    for secret in secrets:
        assert secret not in proc.stdout and secret not in proc.stderr
        for where, data in (t for f in files for t in texts_of(f)):
            assert secret.encode() not in data, f"{secret[:6]}... found in {where}"
    return len(files)


def rendered_files(out: Path) -> dict[str, list[Path]]:
    kinds: dict[str, list[Path]] = {}
    for p in out.rglob("*"):
        if p.is_file() and "cache" not in p.relative_to(out).parts:
            kinds.setdefault(p.suffix or p.name, []).append(p)
    return kinds


def check_run(out: Path, proc: subprocess.CompletedProcess, backend: str, secrets: list[str], sheets: int = 0) -> None:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "panels: 4 rendered" in proc.stdout
    kinds = rendered_files(out)
    # everything the brief names was produced and is grepped below
    assert len(kinds[".ipynb"]) == 1 and len(kinds[".parquet"]) == 1 and len(kinds[".pdf"]) == 1
    assert len(kinds[".cbz"]) == 1 and len(kinds[".png"]) == 5 + sheets  # 4 panels + 1 page (+ character sheets)
    assert any(p.name == "run.json" for p in kinds[".json"])
    manifest = json.loads(next(p for p in kinds[".json"] if p.name == "run.json").read_text())
    assert manifest["backend"] == backend and manifest["status"] == "completed"
    assert assert_no_secret(out, proc, secrets) >= 10


def test_runpod_render_through_the_cli_keeps_the_key_out_of_every_output(renders):
    out, proc, requests = renders["runpod"]
    # the default templates: two character sheets (FLUX.1 dev), then panels with their sheet (FLUX.1 Kontext)
    check_run(out, proc, "runpod", [RUNPOD_KEY, *OTHER_KEYS.values()], sheets=2)
    assert "character sheets: 2 rendered" in proc.stdout and len(list(out.rglob("characters/*.png"))) == 2
    # the key did reach the endpoint (so the check above is about a key really in use)
    runs = [r for r in requests if r["path"].endswith("/run")]
    assert len(runs) == 6 and all(r["headers"]["Authorization"] == f"Bearer {RUNPOD_KEY}" for r in runs)
    inputs = [json.loads(r["body"])["input"] for r in runs]
    with_reference = [i for i in inputs if i.get("images")]
    assert len(with_reference) == 4  # every panel has a character, so every panel carries its sheet
    for i in with_reference:
        loads = [n for n in i["workflow"].values() if n.get("class_type") == "LoadImage"]
        assert [n["inputs"]["image"] for n in loads] == [i["images"][0]["name"]]


def test_runware_render_through_the_cli_keeps_the_key_out_of_every_output(renders):
    if "runware" not in renders:
        pytest.skip("the runware extra is not installed")
    out, proc, received = renders["runware"]
    check_run(out, proc, "runware", [RUNWARE_KEY, *OTHER_KEYS.values()])
    auth = [t for t in received if t.get("taskType") == "authentication"]
    assert auth and all(t["apiKey"] == RUNWARE_KEY for t in auth)
    assert len([t for t in received if t.get("taskType") == "imageInference"]) == 4


def test_storyboard_render_with_keys_in_the_environment_writes_none_of_them(renders):
    out, proc, _ = renders["storyboard"]
    check_run(out, proc, "storyboard", [RUNPOD_KEY, RUNWARE_KEY, *OTHER_KEYS.values()])


def test_the_grep_reads_inside_compressed_outputs(renders):
    """The search above would see text the outputs hold only compressed: the plan
    title in the CBZ's ComicInfo.xml, a panel's prompt in the catalog's rows."""
    out, _, _ = renders["storyboard"]
    blobs = [data for f in out.rglob("*") if f.is_file() for _, data in texts_of(f)]
    cbz = next(out.rglob("*.cbz"))
    assert b"<Title>" in zipfile.ZipFile(cbz).read("ComicInfo.xml") and b"<Title>" not in cbz.read_bytes()
    assert any(b"action 1.3" in b for b in blobs)
