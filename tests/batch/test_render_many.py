"""``storybench render FOLDER`` (each plan its own run, one table, exit 1 when any failed)
and ``storybench runs`` (past runs newest first; a SIGKILLed run shown interrupted)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storybench.batch.runs_table import parse_since, past_runs

try:
    from plan_factory import plan_dict
except ImportError:  # tests/ imported as a package
    from tests.plan_factory import plan_dict

HERE = Path(__file__).resolve().parents[1]  # the tests folder (support scripts)
ROOT = HERE.parent
SIZE = ["-p", "page_width", "600", "-p", "page_height", "900", "-p", "panel_max_side", "256", "-p", "dpi", "72"]


def storybench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "storybench", *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


def table_rows(stdout: str) -> dict[str, list[str]]:
    """plan → cells of its table line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("plan "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith(" "):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def test_render_a_folder_then_again_then_runs(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    for plan_id, layouts in (("alpha", ("two-horizontal",)), ("beta", ("single", "two-vertical"))):
        (plans / f"{plan_id}.json").write_text(json.dumps(plan_dict(layouts, plan_id=plan_id)), encoding="utf-8")
    (plans / "broken.json").write_text((HERE / "data" / "invalid_grid_three_panels.json").read_text(), encoding="utf-8")
    out = tmp_path / "outputs"

    first = storybench("render", "plans", "--output-dir", str(out), *SIZE, cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    rows = table_rows(first.stdout)
    assert set(rows) == {"alpha", "beta", "broken.json"}
    # plan, run id, status, rendered, cached, failed, pages, seconds, run folder
    assert rows["alpha"][2:7] == ["completed", "2", "0", "0", "1"]
    assert rows["beta"][2:7] == ["completed", "3", "0", "0", "2"]
    assert rows["broken.json"][1:3] == ["-", "invalid"]
    assert "chapters[0].pages[1].panels: layout 'grid-2x2' needs 4 panels, got 3" in first.stdout
    for plan_id in ("alpha", "beta"):
        run_dir = tmp_path / rows[plan_id][-1]
        assert run_dir.parent.name == plan_id and (run_dir / "batch_render.ipynb").is_file()
        assert sorted(p.name for p in (run_dir / "pages").glob("*.png"))

    again = storybench("render", "plans", "--output-dir", str(out), "--parallel", "2", *SIZE, cwd=tmp_path)
    assert again.returncode == 1
    rows2 = table_rows(again.stdout)
    assert rows2["alpha"][2:5] == ["completed", "0", "2"] and rows2["beta"][2:5] == ["completed", "0", "3"]
    assert rows2["alpha"][1] != rows["alpha"][1]  # a completed run is not resumed: a new run, all cache hits

    # a render killed with SIGKILL: processing while it runs, interrupted once dead
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "engine_render_script.py"), str(out), "killed-comic", "0.3", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:  # until the catalog holds a finished panel of the run (rows are flushed every 2 s)
        assert proc.poll() is None and time.monotonic() < deadline, "render ended or made no progress"
        live = past_runs(out, plan_id="killed-comic")
        if live and (live[0].panels_rendered or 0) >= 1:
            break
        time.sleep(0.05)
    assert live[0].status == "processing"  # its lock is held: not mistaken for a dead run
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    listed = storybench("runs", "--output-dir", str(out), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    table = table_rows(listed.stdout)
    lines = [line for line in listed.stdout.splitlines() if re.match(r"^(alpha|beta|broken\.json|killed-comic) ", line)]
    assert lines[0].split()[0] == "killed-comic"  # newest first
    assert (
        len([x for x in lines if x.startswith("alpha ")]) == 2 and len([x for x in lines if x.startswith("beta ")]) == 2
    )
    assert len([x for x in lines if x.startswith("broken.json ")]) == 2  # both invalid attempts are recorded
    assert table["killed-comic"][2] == "interrupted"
    assert int(table["killed-comic"][3]) >= 1  # panels done before the kill, from the catalog
    assert "interrupted run(s)" in listed.stdout

    only = storybench("runs", "--output-dir", str(out), "--plan", "alpha", "--since", "1h", cwd=tmp_path)
    assert set(table_rows(only.stdout)) == {"alpha"}


def test_parse_since() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-11-29", now) == datetime(2026, 11, 29, tzinfo=UTC)
    with pytest.raises(ValueError, match="24h"):
        parse_since("yesterday", now)


def test_missing_plan_path_is_reported(tmp_path: Path) -> None:
    result = storybench("render", "nothing-here", "other.json", cwd=tmp_path)
    assert result.returncode == 1 and "nothing-here: no such file or folder" in result.stderr
