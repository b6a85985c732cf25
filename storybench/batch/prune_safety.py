"""What lets ``storybench prune`` be killed at any moment and stay inside its folder.

* **Inside the folder only.** :func:`inside` tells whether a path's folder is within
  the output folder once symbolic links are resolved; prune neither follows a
  symbolic link to a folder nor deletes or writes (``run.lock``) through one, and
  lists each link it skipped.
* **Rows first, then files.** Before deleting anything, prune writes a journal
  (:data:`JOURNAL`, atomically) naming the run folders it is about to remove, then
  drops their catalog rows, then deletes each run's ``run.json`` (the run is now
  *half-deleted*) and its folder. A kill at any point leaves catalog rows only for
  files that still exist; the next prune, or the next render in that output folder
  (:func:`finish_interrupted_prune`), deletes the journaled runs and removes the
  journal.
* **Half-deleted runs.** A folder in a plan folder without ``run.json`` whose
  ``run.lock`` is free is a run whose removal (or start) was cut short; it is
  removed when it is journaled or older than :data:`HALF_DELETED_AGE` seconds
  (younger ones may be a render taking its lock).
* :data:`PRUNE_LOCK` serialises prunes (and journal finishing) of one folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from storybench.batch.catalog import CATALOG_FILE, CATALOG_RUNS_DIR, compact_catalog
from storybench.batch.runs import RUN_MANIFEST
from storybench.files import atomic_write_json

__all__ = [
    "HALF_DELETED_AGE",
    "JOURNAL",
    "PRUNE_LOCK",
    "drop_rows",
    "finish_interrupted_prune",
    "finish_journal",
    "in_progress",
    "inside",
    "prune_lock",
    "read_journal",
    "real_dir",
    "remove_run",
    "write_journal",
]

JOURNAL = ".prune-journal.json"
PRUNE_LOCK = ".prune.lock"
HALF_DELETED_AGE = 60.0


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (not followed itself when it is a link) lies in ``root`` once
    every symbolic link of its folder is resolved."""
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(path.parent)
    return os.path.commonpath([real_root, real_parent]) == real_root


def real_dir(path: Path) -> bool:
    """A folder that is not a symbolic link."""
    return path.is_dir() and not path.is_symlink()


def in_progress(run_dir: Path) -> bool:
    """Whether a live process holds ``run_dir/run.lock``. Creates no file: a missing
    lock file is a free one, and a lock file that is a symbolic link is never opened."""
    path = run_dir / "run.lock"
    if path.is_symlink() or not path.is_file():
        return False
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def prune_lock(out: Path) -> FileLock:
    """The lock held while pruning ``out`` or finishing an interrupted prune."""
    return FileLock(str(out / PRUNE_LOCK))


def write_journal(out: Path, runs: Iterable[Path]) -> None:
    """Record (atomically) the run folders a prune is about to remove."""
    names = sorted(str(p.relative_to(out)) for p in runs)
    atomic_write_json(out / JOURNAL, {"started": time.time(), "runs": names})


def read_journal(out: Path) -> tuple[float, list[Path]]:
    """When an interrupted prune started and the run folders it meant to remove
    (``(0, [])`` when there is no journal or it is unreadable)."""
    try:
        data = json.loads((out / JOURNAL).read_text(encoding="utf-8"))
        started = float(data["started"])
        names = [str(n) for n in data["runs"]]
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, []
    runs = []
    for name in names:
        path = out / name
        if ".." not in Path(name).parts and not Path(name).is_absolute() and len(Path(name).parts) == 2:
            runs.append(path)
    return started, runs


def _resumed_since(run_dir: Path, started: float) -> bool:
    """A render picked the run up again after the prune that journaled it started."""
    try:
        return (run_dir / RUN_MANIFEST).stat().st_mtime > started
    except OSError:
        return False


def remove_run(out: Path, run_dir: Path) -> bool:
    """Delete a run folder: ``run.json`` first (the run is then half-deleted), then the
    rest, never through a symbolic link. ``False`` when it was not removed (a link, or
    outside ``out``)."""
    if not real_dir(run_dir) or not inside(out, run_dir):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(run_dir / RUN_MANIFEST)
    shutil.rmtree(run_dir, ignore_errors=False, onerror=_gone_is_fine)
    with contextlib.suppress(OSError):
        run_dir.parent.rmdir()  # only when it is now empty
    return True


def _gone_is_fine(func: Any, path: str, exc_info: Any) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def drop_rows(out: Path, gone: set[str]) -> None:
    """Compact the catalog without the rows of the runs in ``gone`` and of runs whose
    folder no longer exists (rows a killed prune left behind)."""
    if not (out / CATALOG_FILE).exists() and not (out / CATALOG_RUNS_DIR).exists():
        return
    compact_catalog(out, drop_runs=gone, keep_runs=lambda: existing_run_ids(out) - gone)


def existing_run_ids(out: Path) -> set[str]:
    """Ids of the run folders in ``out`` that have a manifest or are being rendered."""
    ids = set()
    for plan_dir in _children(out):
        for run_dir in _children(plan_dir):
            linked = plan_dir.is_symlink() or run_dir.is_symlink()  # only read through a link
            if (run_dir / RUN_MANIFEST).is_file() or (not linked and in_progress(run_dir)):
                ids.add(run_dir.name)
    return ids


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def finish_interrupted_prune(out: Path) -> list[Path]:
    """Finish what a killed prune journaled: drop the rows of its runs, delete them
    (except a run a render has picked up again since) and remove the journal.

    Returns:
        The run folders removed.

    Raises:
        OSError: a file cannot be removed.
    """
    if not (out / JOURNAL).exists():
        return []
    lock = prune_lock(out)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return []  # a prune is running: it finishes the journal itself
    try:
        return finish_journal(out)
    finally:
        lock.release()


def finish_journal(out: Path) -> list[Path]:
    """Finish an interrupted prune's journal (the caller holds :func:`prune_lock`);
    the run folders removed."""
    if not (out / JOURNAL).exists():
        return []
    started, runs = read_journal(out)
    doomed = [r for r in runs if real_dir(r) and not in_progress(r) and not _resumed_since(r, started)]
    drop_rows(out, {r.name for r in doomed})
    removed = [r for r in doomed if remove_run(out, r)]
    (out / JOURNAL).unlink(missing_ok=True)
    return removed
