"""Prune's rules for unfinished runs, half-deleted runs and plan folders, superseded
killed runs, temporary files of dead writers, and a full disk naming its file."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from engine_support import FakeBackend, make_plan, small_settings
from filelock import FileLock

from storybench.batch import read_catalog, render_plan
from storybench.batch.cache import ArtifactCache
from storybench.batch.prune import prune_outputs
from storybench.batch.tempfiles import sweep_temp_files, writer_gone
from storybench.cli_errors import explain
from storybench.exceptions import ConfigError
from storybench.files import atomic_write_bytes, temp_name

SETTINGS = small_settings(page_width=400, page_height=600, dpi=100, margin=20, gutter=10)


def render(out: Path, n: int, **update):
    plan = make_plan()
    plan = plan.model_copy(update={"title": plan.title, **update}) if update else plan
    chapters = []
    for c in plan.chapters:
        pages = [
            p.model_copy(update={"panels": [k.model_copy(update={"action": f"{k.action} ({n})"}) for k in p.panels]})
            for p in c.pages
        ]
        chapters.append(c.model_copy(update={"pages": pages}))
    summary = render_plan(
        plan.model_copy(update={"chapters": chapters}),
        backend=FakeBackend(),
        output_dir=out,
        progress=False,
        settings=SETTINGS,
    )
    return summary


def set_manifest(run_dir: Path, **fields) -> None:
    data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    data.update(fields)
    (run_dir / "run.json").write_text(json.dumps(data), encoding="utf-8")


def stamp(run_dir: Path, day: int, **fields) -> None:
    set_manifest(run_dir, finished_at=f"2026-01-{day:02d}T00:00:00+00:00", **fields)


def test_a_run_in_progress_never_counts_and_the_newest_completed_run_stays(tmp_path):
    runs = [render(tmp_path, n) for n in range(4)]
    for day, s in enumerate(runs, 1):
        stamp(s.run_dir, day)
    busy = runs[3].run_dir
    set_manifest(busy, status="processing", finished_at=None, updated_at="2026-01-04T00:00:00+00:00")
    lock = FileLock(str(busy / "run.lock"))
    lock.acquire()
    try:
        report = prune_outputs(tmp_path, keep=1)
    finally:
        lock.release()
    assert sorted(p.name for p in report.runs_removed) == sorted(s.run_id for s in runs[:2])
    assert runs[2].run_dir.is_dir() and busy.is_dir()  # the busy run did not take the one place kept
    # the render is killed now: its run is the newest and unfinished; the completed one is protected
    report = prune_outputs(tmp_path, keep=1)
    assert report.runs_removed == [] and runs[2].run_dir.is_dir() and busy.is_dir()
    report = prune_outputs(tmp_path, keep=0)
    assert [p.name for p in report.runs_removed] == [runs[3].run_id] and runs[2].run_dir.is_dir()


def test_half_deleted_runs_are_finished_and_their_rows_dropped(tmp_path):
    runs = [render(tmp_path, n) for n in range(2)]
    half = runs[0].run_dir
    (half / "run.json").unlink()
    old = time.time() - 3600
    os.utime(half, (old, old))
    report = prune_outputs(tmp_path, keep=5)
    assert report.half_deleted == [half] and not half.exists() and runs[1].run_dir.is_dir()
    assert set(read_catalog(tmp_path).run_id) == {runs[1].run_id}
    assert "1 half-deleted run(s)" in str(report)


def test_rows_of_runs_whose_folder_is_gone_are_dropped(tmp_path):
    runs = [render(tmp_path, n) for n in range(2)]
    import shutil

    shutil.rmtree(runs[0].run_dir)  # what an old prune killed half-way left: rows without files
    prune_outputs(tmp_path, keep=5)
    df = read_catalog(tmp_path)
    assert set(df.run_id) == {runs[1].run_id}
    assert all((tmp_path / p).exists() for p in df.path.dropna())


def test_a_second_plan_with_the_same_id_is_refused(tmp_path):
    render(tmp_path, 0)
    with pytest.raises(ConfigError, match="holds the runs of another plan with the id 'test-comic'"):
        render(tmp_path, 1, title="Another comic entirely")
    assert len([p for p in (tmp_path / "test-comic").iterdir() if p.is_dir()]) == 1  # nothing left behind


def test_a_killed_run_is_superseded_by_a_newer_completed_one(tmp_path):
    killed = render(tmp_path, 0)
    set_manifest(killed.run_dir, status="processing", finished_at=None)
    newer = render(tmp_path, 1)
    assert newer.ok
    manifest = json.loads((killed.run_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "superseded" and manifest["superseded_by"] == newer.run_id


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_temporary_files_of_dead_writers_are_swept_at_once(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    entry = cache.put_bytes("ab" * 32, b"data")
    dead = entry.path.parent / f".{entry.path.name}.{dead_pid()}-abcdef.tmp"
    live = temp_name(entry.path)  # this process's pid
    dead.write_bytes(b"torn")
    live.write_bytes(b"being written")
    assert writer_gone(dead) and not writer_gone(live)
    assert cache.sweep_temp_files() == 1 and not dead.exists() and live.exists()
    catalog_dir = tmp_path / "catalog.d"
    catalog_dir.mkdir()
    (catalog_dir / f".run-x.parquet.{dead_pid()}-0123ab.tmp").write_bytes(b"torn")
    assert sweep_temp_files(catalog_dir) == 1


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("storybench.files.os.fsync", full)
    target = tmp_path / "run" / "run.json"
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"{}")
    assert info.value.filename == str(target) and info.value.errno == errno.ENOSPC
    assert not list(target.parent.glob(".*.tmp"))  # nothing half-written left
    lines = explain(info.value).lines
    assert str(target) in lines[-1] or str(target) in lines[0]
    assert "no space left" in " ".join(lines)


def test_the_next_render_finishes_a_killed_prune(tmp_path):
    from storybench.batch.prune_safety import JOURNAL, write_journal

    runs = [render(tmp_path, n) for n in range(2)]
    write_journal(tmp_path, [runs[0].run_dir])  # a prune killed right after writing its journal
    render(tmp_path, 2)
    assert not runs[0].run_dir.exists() and runs[1].run_dir.is_dir() and not (tmp_path / JOURNAL).exists()
    assert runs[0].run_id not in set(read_catalog(tmp_path).run_id)


def test_an_unreadable_run_json_is_left_alone(tmp_path):
    runs = [render(tmp_path, n) for n in range(2)]
    (runs[0].run_dir / "run.json").write_text("{torn", encoding="utf-8")
    report = prune_outputs(tmp_path, keep=0)
    assert runs[0].run_dir.is_dir() and any("run.json cannot be read" in note for note in report.skipped)


def test_runs_of_two_plans_sharing_an_id_are_kept_apart(tmp_path):
    first, second = render(tmp_path, 0), render(tmp_path, 1)
    stamp(first.run_dir, 1, plan_title="Comic A", plan_path="/plans/a.json")  # as an older version let happen
    stamp(second.run_dir, 2, plan_title="Comic B", plan_path="/plans/b.json")
    report = prune_outputs(tmp_path, keep=1)
    assert report.runs_removed == [] and first.run_dir.is_dir() and second.run_dir.is_dir()
