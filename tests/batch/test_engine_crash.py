"""A render killed with SIGKILL at any moment resumes and completes on the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_support import decodes

from storybench.batch import RUN_MANIFEST, read_catalog

HERE = Path(__file__).resolve().parents[1]  # the tests folder (support scripts)
SCRIPT = HERE / "engine_render_script.py"
PANELS, PAGES = 13, 4

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def start(out: Path, delay: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]))
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), "crash-comic", delay, "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def count(out: Path, sub: str) -> int:
    return sum(1 for _ in (out / "crash-comic").glob(f"*/{sub}/*.png"))


def kill_when(proc: subprocess.Popen, ready, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"render ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "render made no progress"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_run_then_restart_completes(tmp_path):
    # killed while panels render
    kill_when(start(tmp_path, "0.1"), lambda: count(tmp_path, "panels") >= 3)
    runs = list((tmp_path / "crash-comic").iterdir())
    assert len(runs) == 1
    assert json.loads((runs[0] / RUN_MANIFEST).read_text())["status"] == "processing"

    # killed again, once pages are being composed (panels are cache hits by now)
    kill_when(start(tmp_path, "0.1"), lambda: count(tmp_path, "pages") >= 1)

    proc = start(tmp_path, "0.01")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["resumed"] and summary["status"] == "completed"

    run_dirs = list((tmp_path / "crash-comic").iterdir())
    assert [d.name for d in run_dirs] == [summary["run_id"]]  # the same run, resumed twice
    run_dir = run_dirs[0]
    manifest = json.loads((run_dir / RUN_MANIFEST).read_text())
    assert manifest["status"] == "completed" and manifest["resumes"] == 2

    df = read_catalog(tmp_path)
    assert set(df.run_id) == {summary["run_id"]}
    assert not df.duplicated(["run_id", "kind", "artifact_id"]).any()
    assert df.kind.value_counts().to_dict() == {"panel": PANELS, "page": PAGES, "pdf": 1, "cbz": 1}
    assert (df.status == "completed").all()

    pngs = list(run_dir.rglob("*.png")) + list((tmp_path / "cache").rglob("*.png"))
    assert len(list(run_dir.rglob("*.png"))) == PANELS + PAGES
    assert all(decodes(p) for p in pngs)
    assert not list(run_dir.rglob("*.tmp"))
    assert (run_dir / "crash-comic.pdf").read_bytes().startswith(b"%PDF")
