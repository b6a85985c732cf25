"""``storybench publish RUN_DIR_OR_STORY --world WORLD_ID [--pages 1,3] [--dry-run]``.

Exit codes: 0 done, 1 a failed or refused step (the message names the step and the
object; run the same command again to resume), 2 usage errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import storybench.publish as publishing
from storybench.config import env_settings
from storybench.exceptions import ConfigError

__all__ = ["add_publish_command", "parse_pages"]


def parse_pages(text: str) -> list[int]:
    """``"1,3,5-7"`` as ``[1, 3, 5, 6, 7]``.

    Raises:
        argparse.ArgumentTypeError: not a list of positive numbers and ranges.
    """
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            numbers = range(int(lo), int(hi) + 1) if sep else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"--pages: {part!r} is not a page number or range like 2-4") from None
        if not numbers or min(numbers) < 1:
            raise argparse.ArgumentTypeError(f"--pages: {part!r}: pages count from 1")
        out.extend(n for n in numbers if n not in out)
    return out


def _cmd_publish(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    options: dict[str, Any] = {
        "pages": args.pages,
        "dry": args.dry_run,
        "target": args.target,
        "plan": args.plan,
        "progress": not args.no_progress,
        "llm": None if args.no_llm else args.llm,
        "on_step": (lambda line: print(line, flush=True)) if args.verbose else None,
    }
    if args.image_backend:
        options["image_backend"] = args.image_backend
    try:
        result = publishing.publish(args.source, args.world, **options)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result)
    return 0


def add_publish_command(sub: Any) -> None:
    """Add the ``publish`` subcommand to the ``storybench`` parser's subparsers ``sub``."""
    env = env_settings()
    p = sub.add_parser(
        "publish",
        help="publish a rendered run or a played story to a platform world (characters, uploads, posts)",
        description=(
            "Publish a run folder or a story to the platform at STORYBENCH_PUBLISH_TARGET "
            "(grpcs://host:port for TLS) with the token in STORYBENCH_PUBLISH_TOKEN. "
            "Running it again creates nothing new and finishes an interrupted publish."
        ),
    )
    p.add_argument("source", metavar="RUN_DIR_OR_STORY", help="a run folder, a story folder or a story.json")
    p.add_argument("--world", required=True, metavar="WORLD_ID", help="the platform world to publish into")
    p.add_argument(
        "--pages", type=parse_pages, default=None, help="pages (or story segments) to publish, e.g. 1,3 or 2-4"
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be created and uploaded, with sizes")
    p.add_argument("--target", default=None, help="platform address (default: $STORYBENCH_PUBLISH_TARGET)")
    p.add_argument("--plan", default=None, help="the run's plan file, when run.json no longer points to it")
    p.add_argument("--llm", default=env.llm_backend, help="LLM backend writing captions (default: %(default)s)")
    p.add_argument("--no-llm", action="store_true", help="captions are the plain narrative text")
    p.add_argument("--image-backend", default=None, help="backend for avatar portraits (default: the run's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="print each step")
    p.set_defaults(func=_cmd_publish)
