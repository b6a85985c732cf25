"""Housekeeping of an output folder: old runs, unreferenced cache objects, orphaned notebooks.

:func:`prune_outputs` removes, for each plan, the runs beyond the newest ``keep``
(and/or older than ``older_than`` seconds), then the cache objects no kept run
references, the content blobs no object or run file links to any more, and orphaned
executed notebooks; it compacts the catalog without the removed runs' rows
(:func:`storybench.batch.catalog.compact_catalog`). A run still being rendered (its
``run.lock`` is held) is never removed, and while one is, cache objects written
since it started are kept.

What counts as *referenced*: the ``cache_key`` of every catalog row of a kept run,
and every file a kept run folder shares (hard link) with the cache. Space freed is
counted per inode: a file whose other hard links survive frees nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from storybench.batch.catalog import CATALOG_FILE, CATALOG_RUNS_DIR, compact_catalog, read_catalog_table
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
        objects_removed: cache objects removed (each with its sidecar).
        blobs_removed: content blobs removed.
        notebooks_removed: orphaned executed notebooks removed.
        bytes_freed: disk space freed, bytes (files whose last link went).
        dry_run: nothing was actually removed.
    """

    runs_removed: list[Path] = field(default_factory=list)
    runs_kept: int = 0
    objects_removed: int = 0
    blobs_removed: int = 0
    notebooks_removed: int = 0
    bytes_freed: int = 0
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        freed = "would free" if self.dry_run else "freed"
        return (
            f"{verb} {len(self.runs_removed)} run(s) (kept {self.runs_kept}), {self.objects_removed} cache object(s), "
            f"{self.blobs_removed} blob(s) and {self.notebooks_removed} orphaned notebook(s); "
            f"{freed} {_size(self.bytes_freed)}"
        )


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def _run_time(run_dir: Path, manifest: dict[str, Any]) -> float:
    for name in ("finished_at", "updated_at", "created_at"):
        value = manifest.get(name)
        if value:
            try:
                return datetime.fromisoformat(str(value)).timestamp()
            except ValueError:
                continue
    return (run_dir / RUN_MANIFEST).stat().st_mtime


def _in_progress(run_dir: Path) -> bool:
    lock = FileLock(str(run_dir / "run.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _runs(output_dir: Path) -> dict[str, list[tuple[Path, float]]]:
    """Run folders (with a manifest) per plan id, oldest first."""
    plans: dict[str, list[tuple[Path, float]]] = {}
    for plan_dir in sorted(p for p in output_dir.iterdir() if p.is_dir() and p.name not in _NOT_PLANS):
        runs = []
        for run_dir in plan_dir.iterdir():
            manifest = read_manifest(run_dir) if run_dir.is_dir() else None
            if manifest is not None:
                runs.append((run_dir, _run_time(run_dir, manifest)))
        if runs:
            plans[plan_dir.name] = sorted(runs, key=lambda item: (item[1], item[0].name))
    return plans


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


class _Ledger:
    """Counts removed links per inode, to know which removals free space."""

    def __init__(self) -> None:
        self.links: Counter[tuple[int, int]] = Counter()
        self.info: dict[tuple[int, int], tuple[int, int]] = {}  # inode -> (size, nlink)

    def add(self, path: Path) -> None:
        try:
            st = path.stat()
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        self.links[key] += 1
        self.info[key] = (st.st_size, st.st_nlink)

    def remaining(self, path: Path) -> int:
        st = path.stat()
        return st.st_nlink - self.links[(st.st_dev, st.st_ino)]

    def freed(self) -> int:
        return sum(size for key, (size, nlink) in self.info.items() if self.links[key] >= nlink)


def _check_limits(keep: int | None, older_than: float | None) -> None:
    if keep is None and older_than is None:
        raise ValueError("say what to prune: keep the newest N runs (--keep N) and/or remove older ones (--older-than)")
    if keep is not None and keep < 0:
        raise ValueError(f"--keep must be 0 or more, got {keep}")


def _select_runs(
    out: Path, report: PruneReport, keep: int | None, older_than: float | None, now: float
) -> tuple[list[Path], float | None]:
    """Sort run folders into removed (on ``report``) and kept; also the start of the oldest busy run."""
    kept: list[Path] = []
    busy_since: float | None = None
    for runs in _runs(out).values():
        for rank, (run_dir, finished) in enumerate(reversed(runs)):
            old_enough = older_than is None or now - finished > older_than
            beyond = keep is None or rank >= keep
            if _in_progress(run_dir):
                busy_since = finished if busy_since is None else min(busy_since, finished)
                kept.append(run_dir)
            elif old_enough and beyond:
                report.runs_removed.append(run_dir)
            else:
                kept.append(run_dir)
    return kept, busy_since


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


def _doomed_objects(
    out: Path, referenced: set[str], kept_inodes: set[tuple[int, int]], busy_since: float | None
) -> tuple[list[Path], int]:
    """Cache objects (and their sidecars) no kept run uses, and how many objects that is."""
    objects = out / "cache" / "objects"
    doomed: list[Path] = []
    count = 0
    for sidecar in sorted(objects.glob("*/*.json")) if objects.is_dir() else []:
        try:
            obj = sidecar.parent / json.loads(sidecar.read_text(encoding="utf-8"))["file"]
            st = obj.stat()
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if sidecar.stem in referenced or (st.st_dev, st.st_ino) in kept_inodes:
            continue
        if busy_since is not None and st.st_mtime >= busy_since - 60:
            continue  # may belong to the render in progress
        doomed += [obj, sidecar]
        count += 1
    return doomed, count


def _doomed_blobs(out: Path, ledger: _Ledger) -> list[Path]:
    """Content blobs whose only remaining link is the blob store's own."""
    blobs = out / "cache" / "blobs"
    return [
        blob
        for blob in (sorted(blobs.glob("*/*")) if blobs.is_dir() else [])
        if blob.is_file() and not blob.name.startswith(".") and ledger.remaining(blob) <= 1
    ]


def _remove(out: Path, report: PruneReport, files: list[Path]) -> None:
    """Delete the removed runs and ``files``, compact the catalog and drop emptied plan folders."""
    for run_dir in report.runs_removed:
        shutil.rmtree(run_dir)
    for path in files:
        path.unlink(missing_ok=True)
    if (out / CATALOG_FILE).exists() or (out / CATALOG_RUNS_DIR).exists():
        compact_catalog(out, drop_runs={d.name for d in report.runs_removed})
    for plan_dir in {d.parent for d in report.runs_removed}:
        with contextlib.suppress(OSError):
            plan_dir.rmdir()  # only when it is now empty


def prune_outputs(
    output_dir: str | os.PathLike[str],
    *,
    keep: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Remove old runs of every plan and what only they used.

    Args:
        output_dir: the output folder.
        keep: runs of each plan to keep, newest first (``None``: no count limit).
        older_than: only remove runs finished more than this many seconds ago.
        dry_run: report without removing anything.
        now: the current time (seconds since the epoch), for tests.

    Returns:
        What was (or would be) removed and the space freed.

    Raises:
        ValueError: neither ``keep`` nor ``older_than`` given, or ``keep`` negative.
        OSError: a file cannot be removed.
    """
    _check_limits(keep, older_than)
    out = Path(output_dir)
    now = time.time() if now is None else now
    report = PruneReport(dry_run=dry_run)
    ledger = _Ledger()
    kept, busy_since = _select_runs(out, report, keep, older_than, now)
    report.runs_kept = len(kept)
    for run_dir in report.runs_removed:
        for path in _files(run_dir):
            ledger.add(path)

    doomed_objects, report.objects_removed = _doomed_objects(
        out, _referenced_keys(out, kept), _kept_inodes(kept), busy_since
    )
    for path in doomed_objects:
        ledger.add(path)
    doomed_blobs = _doomed_blobs(out, ledger)
    for blob in doomed_blobs:
        ledger.add(blob)
    report.blobs_removed = len(doomed_blobs)

    orphans = orphan_notebooks(out / ".notebooks", keep=KEEP_ORPHANS)
    for path in orphans:
        ledger.add(path)
    report.notebooks_removed = len([p for p in orphans if p.suffix == ".ipynb"])
    report.bytes_freed = ledger.freed()
    if not dry_run:
        _remove(out, report, [*doomed_objects, *doomed_blobs, *orphans])
    return report
