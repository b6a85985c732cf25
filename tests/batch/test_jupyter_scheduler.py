"""notebooks/batch_render.ipynb as a Jupyter Scheduler job: a Jupyter server with the
jupyter_scheduler extension on 127.0.0.1 (free port, temporary root, token auth); jobs
created through the extension's REST API (``/scheduler/jobs``) render a plan into the
project's outputs folder, and a bad plan fails its job with the validation message."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from storybench.batch import read_catalog

try:
    from plan_factory import plan_dict
except ImportError:  # tests/ imported as a package
    from tests.plan_factory import plan_dict


HERE = Path(__file__).resolve().parents[1]  # the tests folder (support scripts)
ROOT = HERE.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def jupyter(tmp_path: Path):
    """A Jupyter server with jupyter_scheduler; yields (base url, headers, project root)."""
    if importlib.util.find_spec("jupyter_scheduler") is None:
        pytest.fail("jupyter-scheduler is not installed: pip install -e '.[test]' (or '.[lab]')")
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "plans").mkdir()
    shutil.copy(ROOT / "notebooks" / "batch_render.ipynb", project / "notebooks")
    jupyter_home = tmp_path / "jupyter"
    for sub in ("data", "runtime", "config"):
        (jupyter_home / sub).mkdir(parents=True)
    token = secrets.token_hex(16)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYBENCH_", "JUPYTER_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        JUPYTER_DATA_DIR=str(jupyter_home / "data"),  # scheduler database and staging area
        JUPYTER_RUNTIME_DIR=str(jupyter_home / "runtime"),
        JUPYTER_CONFIG_DIR=str(jupyter_home / "config"),
        STORYBENCH_PROJECT_DIR=str(project),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={project}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--ServerApp.jpserver_extensions={'jupyter_scheduler': True}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "jupyter.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=project)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + 180
        while True:
            text = (tmp_path / "jupyter.log").read_text()
            assert proc.poll() is None and "extension failed loading" not in text, text
            try:
                if httpx.get(f"{base}/scheduler/jobs", headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                "jupyter server did not start: " + (tmp_path / "jupyter.log").read_text()
            )
            time.sleep(0.5)
        assert httpx.get(f"{base}/scheduler/jobs", timeout=5).status_code in (401, 403)  # token auth is on
        yield base, headers, project
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _create_job(base: str, headers: dict, name: str, parameters: dict[str, str]) -> str:
    body = {
        "name": name,
        "input_uri": "notebooks/batch_render.ipynb",
        "runtime_environment_name": "python3",
        "output_formats": ["ipynb"],
        "parameters": parameters,
    }
    response = httpx.post(f"{base}/scheduler/jobs", headers=headers, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["job_id"])


def _wait(base: str, headers: dict, job_ids: list[str], timeout: float = 400) -> dict[str, dict]:
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(job_ids):
        assert time.monotonic() < deadline, f"jobs still running: {set(job_ids) - set(done)}"
        for job_id in job_ids:
            if job_id in done:
                continue
            job = httpx.get(f"{base}/scheduler/jobs/{job_id}", headers=headers, timeout=30).json()
            if job["status"] in ("COMPLETED", "FAILED"):  # a new job reads STOPPED until its process starts
                done[job_id] = job
        time.sleep(1)
    return done


def test_scheduler_jobs_render_fail_on_a_bad_plan_and_a_nightly_definition_is_kept(jupyter) -> None:
    base, headers, project = jupyter
    (project / "plans" / "alpha.json").write_text(
        json.dumps(plan_dict(("two-horizontal",), plan_id="alpha")), encoding="utf-8"
    )
    shutil.copy(HERE / "data" / "invalid_grid_three_panels.json", project / "plans" / "bad.json")
    # parameter values are Python literals (Jupyter Scheduler writes `name = value` into the notebook)
    common = {"backend": '"storyboard"', "page_width": "600", "page_height": "900", "panel_max_side": "256"}
    good = _create_job(base, headers, "alpha tonight", {"plan_path": '"plans/alpha.json"', **common})
    bad = _create_job(base, headers, "bad plan", {"plan_path": '"plans/bad.json"', **common})
    jobs = _wait(base, headers, [good, bad])

    assert jobs[good]["status"] == "COMPLETED", jobs[good].get("status_message")
    runs = list((project / "outputs" / "alpha").iterdir())
    assert len(runs) == 1
    manifest = json.loads((runs[0] / "run.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed" and manifest["plan_path"] == str(project / "plans" / "alpha.json")
    assert (runs[0] / "alpha.pdf").is_file() and sorted((runs[0] / "pages").glob("*.png"))
    catalog = read_catalog(project / "outputs")
    rows = catalog[catalog.run_id == runs[0].name]
    assert len(rows[rows.kind == "panel"]) == 2 and set(rows.status) == {"completed"}

    assert jobs[bad]["status"] == "FAILED"
    message = ANSI.sub("", jobs[bad]["status_message"] or "")
    assert "bad.json" in message  # the notebook words the error (storybench.cli_errors): file, then problems
    assert "chapters[0].pages[1].panels: layout 'grid-2x2' needs 4 panels, got 3" in message

    # a nightly job definition (cron schedule) is accepted and kept with its parameters
    body = {
        "name": "nightly render",
        "input_uri": "notebooks/batch_render.ipynb",
        "runtime_environment_name": "python3",
        "output_formats": ["ipynb"],
        "parameters": {"plan_path": '"plans/noir-rain-alley.json"', "backend": '"storyboard"'},
        "schedule": "0 2 * * *",
        "timezone": "UTC",
    }
    response = httpx.post(f"{base}/scheduler/job_definitions", headers=headers, json=body, timeout=30)
    assert response.status_code == 200, response.text
    definition_id = response.json()["job_definition_id"]
    got = httpx.get(f"{base}/scheduler/job_definitions/{definition_id}", headers=headers, timeout=30).json()
    assert got["schedule"] == "0 2 * * *" and got["parameters"]["plan_path"] == '"plans/noir-rain-alley.json"'
