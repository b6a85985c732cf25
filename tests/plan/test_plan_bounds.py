"""Bounded validation and input refused before anything starts: a hostile plan costs
little time and memory and gets a short answer; duplicate keys and ids differing only
in case are refused with their JSON path."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from plan_factory import plan_dict

from storybench.exceptions import PlanValidationError
from storybench.plan import parse_plan
from storybench.plan.guard import MAX_CONTAINERS, decode_plan_json
from storybench.plan.loading import load_plan

ROOT = Path(__file__).resolve().parents[2]


def cli_validate(path: Path) -> tuple[subprocess.CompletedProcess, float, int]:
    """``storybench validate path`` under ``/usr/bin/time``: the process, its CPU seconds
    and its peak memory (bytes). (``wait4`` from here would count the pytest process's
    pages the child had before ``exec``.)"""
    if not Path("/usr/bin/time").exists():
        pytest.skip("needs /usr/bin/time (apt install time)")
    stats = path.with_suffix(".time")
    timed = ["/usr/bin/time", "-o", str(stats), "-f", "%U %S %M"]
    proc = subprocess.run(
        [*timed, sys.executable, "-m", "storybench", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    user, system, kbytes = stats.read_text().split()[-3:]
    return proc, float(user) + float(system), int(kbytes) * 1024


def test_520000_empty_chapters_are_refused_in_one_line_fast(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"title": "x", "chapters": [{}] * 520_000}, separators=(",", ":")))
    assert path.stat().st_size < 4 * 1024 * 1024
    proc, cpu, peak = cli_validate(path)
    assert proc.returncode == 1
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and f"more than {MAX_CONTAINERS:,} JSON objects and lists" in lines[0], lines
    assert cpu < 2.0 and peak < 200 * 1024 * 1024, (cpu, peak)


def test_400000_non_object_chapters_stop_after_200_problems(tmp_path):
    data = {"title": "x", "style": "noir", "chapters": [1] * 400_000}
    tracemalloc.start()
    started = time.process_time()
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    seconds = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    issues = info.value.issues
    assert len(issues) == 201 and issues[0].path == "$"
    assert issues[0].message == "validation stopped after 200 problem(s); 399,800 more item(s) not checked"
    assert issues[1].path == "chapters[0]" and "valid dictionary" in issues[1].message
    assert seconds < 2.0 and peak < 50 * 1024 * 1024, (seconds, peak)
    path = tmp_path / "ints.json"
    path.write_text(json.dumps(data, separators=(",", ":")))
    proc, cpu, peak = cli_validate(path)
    assert proc.returncode == 1 and "invalid plan (201 problem(s))" in proc.stdout + proc.stderr
    assert len((proc.stdout + proc.stderr).splitlines()) <= 53 and cpu < 2.0 and peak < 200 * 1024 * 1024


def test_many_empty_chapters_from_code_stop_after_200_problems():
    data = {"title": "x", "chapters": [{"pages": [{}]} for _ in range(20_000)]}
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    issues = info.value.issues
    assert len(issues) == 201 and issues[0].message.startswith("validation stopped after 200 problem(s); ")
    assert [i.path for i in issues[1:4]] == ["style", "chapters[0].id", "chapters[0].title"]


def test_a_valid_large_plan_still_validates():
    data = plan_dict(("grid-2x2",) * 20)
    for chapter in data["chapters"]:
        for page in chapter["pages"]:
            for panel in page["panels"]:
                panel["dialogue"] = (
                    [{"character": panel["characters"][0], "text": "line"}] * 8 if panel.get("characters") else []
                )
    plan = parse_plan(copy.deepcopy(data))
    assert plan.page_count() == 20


def test_duplicate_keys_are_refused_with_their_path(tmp_path):
    text = json.dumps(plan_dict(("grid-2x2",)))
    doubled = text.replace('"dialogue": [', '"dialogue": [], "dialogue": [', 1)
    assert doubled != text
    with pytest.raises(PlanValidationError) as info:
        decode_plan_json(doubled, "plan.json")
    (issue,) = info.value.issues
    assert issue.path.startswith("chapters[0].pages[0].panels[") and issue.path.endswith("].dialogue")
    assert "given more than once" in issue.message
    path = tmp_path / "dup.json"
    path.write_text('{"title": "a", "title": "b"}')
    with pytest.raises(PlanValidationError, match=r"title: the key 'title' is given more than once"):
        load_plan(path)


def test_ids_differing_only_in_case_are_refused():
    data = plan_dict(("grid-2x2",))
    panels = data["chapters"][0]["pages"][0]["panels"]
    panels[1]["id"] = panels[0]["id"].upper()
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    (issue,) = info.value.issues
    assert issue.path == "chapters[0].pages[0].panels[1].id" and "only in letter case" in issue.message
