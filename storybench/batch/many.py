"""Many plans in one command: ``storybench render plans/`` or ``storybench render a.json b.json``.

Every plan is validated, then rendered into its own run (the batch notebook, as for
one plan), one after another or ``parallel`` at a time. A bad plan or a failed render
never stops the others; the result is one :class:`~storybench.batch.runs_table.RunRow`
per plan, in the order given, printed as one table at the end.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from storybench.batch.plan_runner import execute_plan_notebook
from storybench.batch.runs import read_manifest
from storybench.batch.runs_table import RunRow, record_attempt, row_from_manifest
from storybench.exceptions import PlanValidationError
from storybench.plan import load_plan

__all__ = ["collect_plan_files", "render_plans"]


def collect_plan_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The plan files meant by ``paths``: files as given, folders as their ``*.json`` files
    (sorted, not recursive, ``*.schema.json`` left out), duplicates dropped.

    Raises:
        FileNotFoundError: a path that does not exist, or a folder with no ``.json`` file.
    """
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.json") if p.is_file() and not p.name.endswith(".schema.json"))
            if not files:
                raise FileNotFoundError(f"{path}: no plan (.json) files in this folder")
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def _render_one(
    notebook: Path, plan_path: Path, *, backend: str, output_dir: Path, params: dict[str, Any], kernel: str | None
) -> RunRow:
    try:
        plan = load_plan(plan_path)
    except PlanValidationError as exc:
        return RunRow(plan=plan_path.name, status="invalid", error=str(exc))
    except (OSError, ValueError) as exc:
        return RunRow(plan=plan_path.name, status="invalid", error=f"{plan_path}: {exc}")
    run = execute_plan_notebook(
        notebook,
        plan_path,
        plan_id=plan.id,
        backend=backend,
        output_dir=output_dir,
        params=params,
        kernel=kernel,
        progress_bar=False,
    )
    manifest = read_manifest(run.run_dir) if run.run_dir is not None else None
    if run.run_dir is None or manifest is None:
        return RunRow(plan=plan.id, status="failed", seconds=run.seconds, error=run.error or "no run was started")
    row = row_from_manifest(run.run_dir, manifest, output_dir)
    row.seconds = run.seconds
    if run.error and not row.error:
        row.error = run.error
    if run.error and row.status == "completed":  # the notebook failed after the run (e.g. showing thumbnails)
        row.status = "failed"
    return row


def render_plans(
    plan_files: list[Path],
    *,
    notebook: Path,
    backend: str,
    output_dir: str | os.PathLike[str],
    params: dict[str, Any] | None = None,
    parallel: int = 1,
    kernel: str | None = None,
    on_done: Callable[[int, RunRow], None] | None = None,
) -> list[RunRow]:
    """Render each plan into its own run.

    Args:
        plan_files: plan files (see :func:`collect_plan_files`).
        notebook: the batch notebook.
        backend: image backend name for every plan.
        output_dir: outputs folder shared by the runs (one catalog, one cache).
        params: notebook parameters for every plan (never secrets).
        parallel: plans rendered at once (>= 1).
        kernel: Jupyter kernel name.
        on_done: called ``(index, row)`` as each plan finishes (any thread; serialised).

    Returns:
        One row per plan, in the order of ``plan_files``.

    Raises:
        ValueError: ``parallel`` < 1.
    """
    if parallel < 1:
        raise ValueError(f"--parallel {parallel}: must be at least 1")
    out = Path(output_dir).resolve()
    rows: list[RunRow | None] = [None] * len(plan_files)
    report = threading.Lock()

    def work(index: int) -> None:
        path = plan_files[index]
        try:
            row = _render_one(notebook, path, backend=backend, output_dir=out, params=dict(params or {}), kernel=kernel)
        except Exception as exc:  # one plan's failure never stops the others
            row = RunRow(plan=path.name, status="failed", error=f"{type(exc).__name__}: {exc}")
        if not row.run_id:
            with contextlib.suppress(OSError):  # the table still shows it
                record_attempt(out, row, path)
        rows[index] = row
        if on_done is not None:
            with report:
                on_done(index, row)

    if parallel == 1 or len(plan_files) <= 1:
        for i in range(len(plan_files)):
            work(i)
    else:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="storybench-plan") as pool:
            list(pool.map(work, range(len(plan_files))))
    return [r for r in rows if r is not None]
