"""``storybench render`` of many plans, and ``storybench runs``: the table of what ran.

``render plans/`` (a folder) or ``render a.json b.json`` renders every plan into its own
run and prints one table (plan, run id, status, panels rendered / cached / failed,
pages, seconds, run folder); exit status 1 when any plan failed or was invalid.
``runs [--plan ID] [--since 24h]`` prints the same table for past runs, newest first,
with dead runs shown ``interrupted``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from storybench.batch.many import collect_plan_files, render_plans
from storybench.batch.runs_table import RunRow, format_table, parse_since, past_runs

__all__ = ["add_runs_command", "render_many"]


def render_many(args: argparse.Namespace, params: dict[str, Any], notebook: Path) -> int:
    """Render every plan named by ``args.plan`` (files and folders); print progress and the table.

    Args:
        args: the ``render`` arguments (``plan``, ``backend``, ``output_dir``, ``parallel``, ``kernel``).
        params: notebook parameters for every plan (secrets already refused).
        notebook: the batch notebook.

    Returns:
        The exit status: 0 when every plan completed, else 1.
    """
    try:
        files = collect_plan_files(args.plan)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    total = len(files)
    print(f"rendering {total} plan(s) with backend {args.backend!r}, {args.parallel} at a time")

    def done(index: int, row: RunRow) -> None:
        print(f"[{index + 1}/{total}] {files[index].name}: {row.status}" + (f" ({row.run_id})" if row.run_id else ""))
        sys.stdout.flush()

    rows = render_plans(
        files,
        notebook=notebook,
        backend=args.backend,
        output_dir=args.output_dir,
        params=params,
        parallel=args.parallel,
        kernel=args.kernel,
        on_done=done,
    )
    print()
    print(format_table(rows, relative_to=Path.cwd()))
    failed = [r for r in rows if not r.ok]
    print(f"\n{total - len(failed)} of {total} plan(s) completed" + (f", {len(failed)} did not" if failed else ""))
    return 1 if failed else 0


def _cmd_runs(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    rows = past_runs(args.output_dir, plan_id=args.plan, since=since)
    if not rows:
        print(f"no runs in {args.output_dir}" + (f" for plan {args.plan!r}" if args.plan else ""))
        return 0
    print(format_table(rows, relative_to=Path.cwd()))
    interrupted = [r for r in rows if r.status == "interrupted"]
    if interrupted:
        print(
            f"\n{len(interrupted)} interrupted run(s): render the same plan with the same backend and settings "
            "again to resume"
        )
    return 0


def add_runs_command(sub: Any, default_output_dir: str) -> None:
    """Register ``runs`` on the ``storybench`` subparsers ``sub``."""
    r = sub.add_parser("runs", help="past runs (newest first) from the run folders and the catalog")
    r.add_argument("--plan", help="only the runs of this plan id")
    r.add_argument("--since", help="only runs started within this time (24h, 90m, 7d) or since a date (2026-11-30)")
    r.add_argument("--output-dir", default=default_output_dir, help="outputs folder (default: %(default)s)")
    r.set_defaults(func=_cmd_runs)
