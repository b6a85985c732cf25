"""``storybench publish RUN_DIR_OR_STORY --world WORLD_ID [--pages 1,3] [--dry-run] [--resolve char-1=ID]``.

Exit codes: 0 done, 1 a failed or refused step (the message names the step and the
object; run the same command again to resume) or items left *uncertain* (a create
call lost its answer: the message says what to check and which ``--resolve`` to run),
2 usage errors, 130 interrupted (what was published is kept; run it again to finish).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import storybench.publish as publishing
from storybench.config import env_settings
from storybench.exceptions import ConfigError, PublishUncertain
from storybench.publish.logs import RedactQueries

__all__ = ["add_publish_command", "parse_pages", "parse_resolve"]

EXIT_INTERRUPTED = 130


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


def parse_resolve(text: str) -> tuple[str, str]:
    """``"char-1=5f3c…"`` as ``("char-1", "5f3c…")`` (``"char-1=new"``: create it again).

    Raises:
        argparse.ArgumentTypeError: not ``CHARACTER=ID``.
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"--resolve: {text!r} is not CHARACTER=ID (or CHARACTER=new)")
    return name.strip().removeprefix("character:"), value.strip()


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:  # every record shown here, whichever logger made it
        if not any(isinstance(f, RedactQueries) for f in handler.filters):
            handler.addFilter(RedactQueries())


def _cmd_publish(args: argparse.Namespace) -> int:
    _logging(args.verbose)
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
    if args.resolve:
        options["resolve"] = dict(args.resolve)
    try:
        result = publishing.publish(args.source, args.world, **options)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PublishUncertain as exc:
        if exc.report is not None:
            print(exc.report)
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted; run the same command again to finish: the characters, media and posts "
            "already published are in the ledger and are not published twice",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
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
    p.add_argument(
        "--resolve",
        type=parse_resolve,
        action="append",
        metavar="CHARACTER=ID",
        help="say what became of a character reported uncertain: its id on the platform, or 'new' "
        "if it is not there (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="print each step")
    p.set_defaults(func=_cmd_publish)
