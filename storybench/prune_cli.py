"""The ``storybench prune`` subcommand (the work is done by :mod:`storybench.batch.prune`)."""

from __future__ import annotations

import argparse
from typing import Any

from storybench.batch.prune import parse_age, prune_outputs
from storybench.cli_errors import UsageError

__all__ = ["add_prune_command"]


def _age(text: str) -> float:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_prune(args: argparse.Namespace) -> int:
    if args.keep is None and args.older_than is None:
        raise UsageError("say what to prune: --keep N (newest runs of each plan) and/or --older-than AGE (e.g. 30d)")
    report = prune_outputs(args.output_dir, keep=args.keep, older_than=args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for run in report.runs_removed:
        print(f"{verb} {run}")
    for run in report.half_deleted:
        print(f"{verb} {run} (a half-deleted run: its removal or start had been cut short)")
    for note in report.skipped:
        print(f"skipped {note}")
    print(report)
    return 0


def add_prune_command(sub: Any, default_output_dir: str) -> None:
    """Register ``storybench prune`` on the CLI's subparsers."""
    p = sub.add_parser(
        "prune",
        help="remove old runs and the cache objects no kept run uses; say how much was freed",
        description="Remove old runs of every plan, cache objects and blobs no kept run references, and "
        "orphaned executed notebooks; compact the catalog.",
    )
    p.add_argument("--output-dir", default=default_output_dir, help="outputs folder (default: %(default)s)")
    p.add_argument("--keep", type=int, default=None, metavar="N", help="keep the newest N runs of each plan")
    p.add_argument(
        "--older-than", type=_age, default=None, metavar="AGE", help="only remove runs older than AGE (30d, 12h, 2w)"
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    p.set_defaults(func=_cmd_prune)
