"""The ``storybench plan`` subcommand: plan a comic from a prompt and save it.

Wiring (in ``storybench/cli.py``)::

    from storybench.planner.cli import add_plan_command
    subparsers = parser.add_subparsers(dest="command")
    add_plan_command(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)          # run_plan_command(args) -> exit code

Example: ``storybench plan "a detective hunts a ghost" --max-pages 3 --style noir``
prints the saved path (``plans/<plan-id>.json``) on stdout, repairs on stderr.
``storybench plan --from-story STORY.json [--segment ID] [--max-pages N] -o plan.json``
plans the comic of a story path instead (:func:`storybench.planner.from_story.plan_from_story`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storybench.exceptions import StorybenchError
from storybench.plan.loading import save_plan
from storybench.plan.styles import STYLE_IDS
from storybench.planner.from_story import plan_from_story
from storybench.planner.planner import PlanResult, plan_comic
from storybench.story.model import load_story
from storybench.world.importing import load_world_file

__all__ = ["add_plan_command", "default_plan_path", "run_plan_command"]


def add_plan_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``plan`` subcommand to ``subparsers``; its handler is set as
    ``func`` (``args.func(args)`` returns the exit code).

    Returns:
        The ``plan`` subparser.
    """
    p = subparsers.add_parser(
        "plan",
        help="plan a comic from a story idea with an LLM and save it as JSON",
        description="Plan a comic (characters, chapters, pages, panels) from a story idea; prints the saved path.",
    )
    p.add_argument("prompt", nargs="?", default=None, help="the story idea (or --from-story)")
    p.add_argument("--from-story", default=None, metavar="STORY.json", help="plan the comic of a story path instead")
    p.add_argument("--segment", default=None, help="with --from-story: the path's last segment (default: current)")
    p.add_argument(
        "--world",
        default=None,
        metavar="FILE",
        help="with --from-story: world info or a character card; its characters named on the path are the cast",
    )
    p.add_argument("--style", default="noir", choices=STYLE_IDS, help="art style (default: noir)")
    p.add_argument("--max-pages", type=int, default=5, help="1..20 pages (default: 5)")
    p.add_argument("--language", default="en", help="BCP-47 code of dialogue and captions (default: en)")
    p.add_argument("--llm", default=None, help="LLM backend name (default: STORYBENCH_LLM_BACKEND or llamacpp)")
    p.add_argument("--seed", type=int, default=None, help="sampler seed for a repeatable plan")
    p.add_argument("--attempts", type=int, default=2, help="tries per request before the code repairs (default: 2)")
    p.add_argument("--out", "-o", default=None, help="output file (default: plans/<plan-id>.json, never overwriting)")
    p.add_argument("--plans-dir", default="plans", help="folder for the default output path (default: plans)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_plan_command)
    return p


def default_plan_path(plans_dir: str | Path, plan_id: str) -> Path:
    """``plans_dir/<plan_id>.json``, or ``<plan_id>-2.json``... when that file exists."""
    folder = Path(plans_dir)
    path = folder / f"{plan_id}.json"
    n = 2
    while path.exists():
        path = folder / f"{plan_id}-{n}.json"
        n += 1
    return path


def run_plan_command(args: argparse.Namespace) -> int:
    """Handler of ``storybench plan``: plans, saves atomically, prints the path.

    Returns:
        0 on success, 2 on a storybench error (message on stderr).
    """
    if (args.prompt is None) == (args.from_story is None):
        print("storybench plan: give either a story idea or --from-story STORY.json", file=sys.stderr)
        return 2
    try:
        result = _from_story(args) if args.from_story else _from_prompt(args)
        path = Path(args.out) if args.out else default_plan_path(args.plans_dir, result.plan.id)
        save_plan(result.plan, path)
    except StorybenchError as exc:
        print(f"storybench plan: {exc}", file=sys.stderr)
        return 2
    for note in result.repairs:
        print(f"repaired: {note}", file=sys.stderr)
    print(
        f"planned {result.plan.page_count()} page(s), {result.plan.panel_count()} panel(s) "
        f"in {result.seconds:.1f} s with {len(result.repairs)} repair(s)",
        file=sys.stderr,
    )
    print(path)
    return 0


def _from_prompt(args: argparse.Namespace) -> PlanResult:
    return plan_comic(
        args.prompt,
        style=args.style,
        max_pages=args.max_pages,
        language=args.language,
        llm=args.llm,
        seed=args.seed,
        progress=not args.no_progress,
        attempts=args.attempts,
    )


def _from_story(args: argparse.Namespace) -> PlanResult:
    return plan_from_story(
        load_story(args.from_story),
        args.segment,
        world=load_world_file(args.world).story_world() if args.world else None,
        max_pages=args.max_pages,
        llm=args.llm,
        seed=args.seed,
        attempts=args.attempts,
        progress=not args.no_progress,
    )
