"""Housekeeping of an output folder: old runs, unreferenced cache objects, orphaned notebooks.

:func:`prune_outputs` removes, for each plan, the finished runs beyond the newest
``keep`` (and/or older than ``older_than`` seconds), then the cache objects no kept
run references, the content blobs no object or run file links to any more, and
orphaned executed notebooks.

Rules:
    * a run still being rendered (its ``run.lock`` is held) is never removed and
      never counts toward ``keep``; while one is, cache objects written since it
      started are kept;
    * the newest completed run of a plan is never removed while a newer run of it
      did not complete (failed, killed, or still rendering);
    * a plan folder can hold runs of two plans that share an id (rendered before
      :class:`~storybench.batch.run_folder.RunFolder` refused that): runs are grouped
      by plan file (or, for plans rendered from code, by title), and ``keep``
      applies to each group;
    * nothing outside the output folder is touched: a symbolic link to a folder is
      neither followed nor written through, and each one is listed in
      :attr:`PruneReport.skipped`;
    * a kill at any moment leaves a catalog whose rows all name existing files,
      and the next prune (or render) finishes the job: see
      :mod:`storybench.batch.prune_safety`; every prune also drops the rows of
      runs whose folder is gone (left by older versions, or deleted by hand);
    * a run folder without ``run.json`` and with a free lock, older than a minute,
      is a half-deleted run (a removal or a start cut short) and is removed.

What counts as *referenced*: the ``cache_key`` of every catalog row of a kept run,
and every file a kept run folder shares (hard link) with the cache. Space freed is
counted per inode: a file whose other hard links survive frees nothing.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storybench.batch.catalog import CATALOG_RUNS_DIR, read_catalog_table
from storybench.batch.prune_safety import (
    HALF_DELETED_AGE,
    JOURNAL,
    drop_rows,
    finish_journal,
    in_progress,
    inside,
    prune_lock,
    real_dir,
    remove_run,
    write_journal,
)
from storybench.batch.runs import RUN_MANIFEST, read_manifest
from storybench.notebook_run import KEEP_ORPHANS, orphan_notebooks

__all__ = ["PruneReport", "parse_age", "prune_outputs"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NOT_PLANS = {"cache", ".notebooks", CATALOG_RUNS_DIR}


def parse_age(text: str) -> float:
    """Seconds in an age such as ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (a bare number is seconds).

    Raises:
        ValueError: not such an age.
    """
    match = _AGE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an age such as 30d, 12h, 90m or 2w")
    return float(match.group(1)) * _UNIT[match.group(2).lower()]


@dataclass
class PruneReport:
    """What :func:`prune_outputs` removed (or would remove, with ``dry_run``).

    Attributes:
        runs_removed: run folders removed.
        runs_kept: run folders kept.
        half_deleted: run folders without ``run.json`` (a removal or a start cut short) removed.
        objects_removed: cache objects removed (each with its sidecar).
        blobs_removed: content blobs removed.
        notebooks_removed: orphaned executed notebooks removed.
        bytes_freed: disk space freed, bytes (files whose last link went).
        skipped: symbolic links (and anything else outside the folder) left alone, as sentences.
        dry_run: nothing was actually removed.
    """

    runs_removed: list[Path] = field(default_factory=list)
    runs_kept: int = 0
    half_deleted: list[Path] = field(default_factory=list)
    objects_removed: int = 0
    blobs_removed: int = 0
    notebooks_removed: int = 0
    bytes_freed: int = 0
    skipped: list[str] = field(default_factory=list)
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        freed = "would free" if self.dry_run else "freed"
        half = f", {len(self.half_deleted)} half-deleted run(s)" if self.half_deleted else ""
        return (
            f"{verb} {len(self.runs_removed)} run(s) (kept {self.runs_kept}){half}, "
            f"{self.objects_removed} cache object(s), "
            f"{self.blobs_removed} blob(s) and {self.notebooks_removed} orphaned notebook(s); "
            f"{freed} {_size(self.bytes_freed)}"
        )


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


@dataclass
class _Run:
    path: Path
    finished: float
    status: str
    busy: bool


def _run_time(run_dir: Path, manifest: dict[str, Any]) -> float:
    for name in ("finished_at", "updated_at", "created_at"):
        value = manifest.get(name)
        if value:
            try:
                return datetime.fromisoformat(str(value)).timestamp()
            except ValueError:
                continue
    return (run_dir / RUN_MANIFEST).stat().st_mtime


def _plan_key(plan_dir: Path, manifest: dict[str, Any]) -> tuple[str, str]:
    """Which plan a run belongs to: its folder and its plan file (or title, for plans from code)."""
    path = manifest.get("plan_path")
    return plan_dir.name, f"file:{path}" if path else f"title:{manifest.get('plan_title') or ''}"


def _link_note(path: Path) -> str:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return f"{path}: a symbolic link (to {target}); not followed, nothing in it removed"


def _real_children(folder: Path, report: PruneReport) -> list[Path]:
    """Sub-folders of ``folder``; symbolic links are noted on ``report`` and left out."""
    children = []
    for child in sorted(folder.iterdir()):
        if child.is_symlink():
            report.skipped.append(_link_note(child))  # to a folder, a file or nowhere: never followed
        elif child.is_dir():
            children.append(child)
    return children


def _read_run(run_dir: Path, report: PruneReport, now: float) -> tuple[_Run, dict[str, Any]] | None:
    """A run folder as a run and its manifest; ``None`` (noted on ``report``) for a folder
    whose ``run.json`` cannot be read, or that is half-deleted, or a render taking its lock."""
    busy = in_progress(run_dir)
    manifest_path = run_dir / RUN_MANIFEST
    manifest = read_manifest(run_dir) if not manifest_path.is_symlink() else None
    if manifest is not None:
        return _Run(run_dir, _run_time(run_dir, manifest), str(manifest.get("status") or ""), busy), manifest
    if manifest_path.exists() or manifest_path.is_symlink():
        report.skipped.append(f"{run_dir}: its run.json cannot be read; left alone")
    elif not busy and now - run_dir.stat().st_mtime > HALF_DELETED_AGE:
        report.half_deleted.append(run_dir)
    return None


def _scan(out: Path, report: PruneReport, now: float) -> dict[tuple[str, str], list[_Run]]:
    """Runs per plan, newest first; half-deleted runs go to ``report.half_deleted``."""
    plans: dict[tuple[str, str], list[_Run]] = {}
    for plan_dir in _real_children(out, report):
        if plan_dir.name in _NOT_PLANS:
            continue
        for run_dir in _real_children(plan_dir, report):
            found = _read_run(run_dir, report, now)
            if found is not None:
                plans.setdefault(_plan_key(plan_dir, found[1]), []).append(found[0])
    for runs in plans.values():
        runs.sort(key=lambda r: (r.finished, r.path.name), reverse=True)
    return plans


def _protected(runs: list[_Run]) -> _Run | None:
    """The newest completed run when a newer run did not complete (``runs`` newest first)."""
    for i, run in enumerate(runs):
        if run.status == "completed" and not run.busy:
            return run if i > 0 else None
    return None


def _select_runs(
    out: Path, report: PruneReport, keep: int | None, older_than: float | None, now: float
) -> tuple[list[Path], float | None]:
    """Sort run folders into removed (on ``report``) and kept; also the start of the oldest busy run."""
    kept: list[Path] = []
    busy_since: float | None = None
    for runs in _scan(out, report, now).values():
        protected = _protected(runs)
        rank = 0
        for run in runs:
            if run.busy:
                busy_since = run.finished if busy_since is None else min(busy_since, run.finished)
                kept.append(run.path)
                continue
            old_enough = older_than is None or now - run.finished > older_than
            beyond = keep is None or rank >= keep
            rank += 1
            if old_enough and beyond and run is not protected:
                report.runs_removed.append(run.path)
            else:
                kept.append(run.path)
    return kept, busy_since


def _files(folder: Path) -> list[Path]:
    """Regular files under ``folder``, symbolic links to folders not followed."""
    if not real_dir(folder):
        return []
    found = []
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return found


class _Ledger:
    """Counts removed links per inode, to know which removals free space."""

    def __init__(self) -> None:
        self.links: Counter[tuple[int, int]] = Counter()
        self.info: dict[tuple[int, int], tuple[int, int]] = {}  # inode -> (size, nlink)

    def add(self, path: Path) -> None:
        try:
            st = path.lstat()
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        self.links[key] += 1
        self.info[key] = (st.st_size, st.st_nlink)

    def remaining(self, path: Path) -> int:
        st = path.lstat()
        return st.st_nlink - self.links[(st.st_dev, st.st_ino)]

    def freed(self) -> int:
        return sum(size for key, (size, nlink) in self.info.items() if self.links[key] >= nlink)


def _check_limits(keep: int | None, older_than: float | None) -> None:
    if keep is None and older_than is None:
        raise ValueError("say what to prune: keep the newest N runs (--keep N) and/or remove older ones (--older-than)")
    if keep is not None and keep < 0:
        raise ValueError(f"--keep must be 0 or more, got {keep}")


def _referenced_keys(out: Path, kept: list[Path]) -> set[str]:
    """Cache keys of the catalog rows of kept runs."""
    table = read_catalog_table(out)
    kept_ids = {d.name for d in kept}
    run_ids = table.column("run_id").to_pylist()
    keys = table.column("cache_key").to_pylist()
    return {key for run_id, key in zip(run_ids, keys, strict=True) if key and run_id in kept_ids}


def _kept_inodes(kept: list[Path]) -> set[tuple[int, int]]:
    inodes = set()
    for run_dir in kept:
        for path in _files(run_dir):
            st = path.stat()
            inodes.add((st.st_dev, st.st_ino))
    return inodes


def _store_files(folder: Path, report: PruneReport) -> list[Path]:
    """The files two levels down a cache store (``objects/ab/...``), links not followed."""
    if folder.is_symlink():
        report.skipped.append(_link_note(folder))
        return []
    if not folder.is_dir() or (folder.parent.is_symlink()):
        return []
    return sorted(p for sub in _real_children(folder, report) for p in sub.iterdir() if not p.is_symlink())


def _doomed_objects(
    out: Path,
    referenced: set[str],
    kept_inodes: set[tuple[int, int]],
    busy_since: float | None,
    report: PruneReport,
) -> list[Path]:
    """Cache objects (and their sidecars) no kept run uses; counted on ``report``."""
    doomed: list[Path] = []
    for sidecar in _store_files(out / "cache" / "objects", report):
        if sidecar.suffix != ".json":
            continue
        try:
            name = str(json.loads(sidecar.read_text(encoding="utf-8"))["file"])
            obj = sidecar.parent / name
            st = obj.lstat()
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if Path(name).name != name or sidecar.stem in referenced or (st.st_dev, st.st_ino) in kept_inodes:
            continue
        if busy_since is not None and st.st_mtime >= busy_since - 60:
            continue  # may belong to the render in progress
        doomed += [obj, sidecar]
        report.objects_removed += 1
    return doomed


def _doomed_blobs(out: Path, ledger: _Ledger, report: PruneReport) -> list[Path]:
    """Content blobs whose only remaining link is the blob store's own."""
    return [
        blob
        for blob in _store_files(out / "cache" / "blobs", report)
        if blob.is_file() and not blob.name.startswith(".") and ledger.remaining(blob) <= 1
    ]


def _orphans(out: Path, report: PruneReport) -> list[Path]:
    work = out / ".notebooks"
    if work.is_symlink():
        report.skipped.append(_link_note(work))
        return []
    return orphan_notebooks(work, keep=KEEP_ORPHANS)


def _remove(out: Path, report: PruneReport, files: list[Path]) -> None:
    """Journal the removed runs, drop their catalog rows, then delete them and ``files``."""
    runs = [*report.runs_removed, *report.half_deleted]
    write_journal(out, runs)
    drop_rows(out, {d.name for d in runs})
    for run_dir in runs:
        if not remove_run(out, run_dir):
            report.skipped.append(f"{run_dir}: outside the output folder once links are resolved; not removed")
    for path in files:
        if inside(out, path):
            path.unlink(missing_ok=True)
        else:
            report.skipped.append(f"{path}: outside the output folder once links are resolved; not removed")
    (out / JOURNAL).unlink(missing_ok=True)


def _plan(out: Path, report: PruneReport, keep: int | None, older_than: float | None, now: float) -> list[Path]:
    """Fill ``report`` with what goes; the files to delete besides the run folders."""
    ledger = _Ledger()
    kept, busy_since = _select_runs(out, report, keep, older_than, now)
    report.runs_kept = len(kept)
    for run_dir in [*report.runs_removed, *report.half_deleted]:
        for path in _files(run_dir):
            ledger.add(path)
    doomed = _doomed_objects(out, _referenced_keys(out, kept), _kept_inodes(kept), busy_since, report)
    for path in doomed:
        ledger.add(path)
    blobs = _doomed_blobs(out, ledger, report)
    for blob in blobs:
        ledger.add(blob)
    report.blobs_removed = len(blobs)
    orphans = _orphans(out, report)
    for path in orphans:
        ledger.add(path)
    report.notebooks_removed = len([p for p in orphans if p.suffix == ".ipynb"])
    report.bytes_freed = ledger.freed()
    return [*doomed, *blobs, *orphans]


def prune_outputs(
    output_dir: str | os.PathLike[str],
    *,
    keep: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Remove old runs of every plan and what only they used (see the module docstring).

    Args:
        output_dir: the output folder.
        keep: finished runs of each plan to keep, newest first (``None``: no count limit).
        older_than: only remove runs finished more than this many seconds ago.
        dry_run: report without removing anything.
        now: the current time (seconds since the epoch), for tests.

    Returns:
        What was (or would be) removed, the space freed and the links skipped.

    Raises:
        ValueError: neither ``keep`` nor ``older_than`` given, or ``keep`` negative.
        OSError: a file cannot be removed.
    """
    _check_limits(keep, older_than)
    out = Path(output_dir)
    now = time.time() if now is None else now
    report = PruneReport(dry_run=dry_run)
    if not out.is_dir():
        return report
    if dry_run:
        _plan(out, report, keep, older_than, now)
        return report
    with prune_lock(out):
        report.half_deleted += finish_journal(out)  # what a killed prune left
        files = _plan(out, report, keep, older_than, now)
        _remove(out, report, files)
    return report
