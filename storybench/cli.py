"""The ``storybench`` command.

Subcommands:
    render PLAN   batch-render a plan by running notebooks/batch_render.ipynb through papermill;
                  the executed notebook is kept in the run folder. Several plans or a folder:
                  each its own run, one table at the end (--parallel N).
    runs          past runs, newest first (--plan ID, --since 24h); dead runs shown interrupted.
    workflow      ComfyUI templates: add FILE (slots found automatically), show NAME, list.
    validate PLAN check a plan; exit 1 with every problem and its JSON path.
    schema        print the plan's JSON Schema.
    prune         remove old runs and unreferenced cache objects (storybench.batch.prune).
    plan PROMPT   plan a comic with an LLM (when the planner is installed).
    publish SRC   publish a rendered run or a played story to a platform world (the publish extra).
    models        list the LLMs this machine can use (storybench.llm.models_cli).

While a plan renders, one line per finished job (panels, pages, exports: rendered, cached or
failed) and every outage or server change is printed as it happens
(:mod:`storybench.cli_progress`); ``-v`` streams the notebook's own output instead.

Exit codes: 0 success, 1 invalid input or a failed render, 2 usage errors (argparse, unknown
``-p`` names, ``-p`` values of the wrong type or range, ``--parallel 0``), 130 interrupted.
Every failure is reported in one or two sentences (:mod:`storybench.messages`);
``storybench --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from storybench.batch.plan_runner import NotebookRun, execute_plan_notebook
from storybench.batch.runs_cli import add_runs_command, render_many
from storybench.cli_progress import ProgressPrinter
from storybench.compose.capacity import lettering_warnings
from storybench.config import env_settings
from storybench.files import atomic_write_text
from storybench.llm.models_cli import add_models_command
from storybench.messages import explain
from storybench.notebook_run import check_parameter_values, check_parameters, notebook_defaults
from storybench.plan import ComicPlan, load_plan, load_plan_with_notes, plan_json_schema
from storybench.planner.cli import add_plan_command
from storybench.prune_cli import add_prune_command
from storybench.publish.cli import add_publish_command
from storybench.redact import redact_output
from storybench.render.comfyui.workflow_cli import add_workflow_command
from storybench.world_cli import add_world_command

__all__ = ["batch_notebook_path", "build_parser", "main"]

NOTEBOOK_NAME = "batch_render.ipynb"


def batch_notebook_path() -> Path:
    """Where the batch notebook is: ``$STORYBENCH_BATCH_NOTEBOOK``, else ``notebooks/`` next to the package.

    Raises:
        FileNotFoundError: the notebook cannot be found.
    """
    override = env_settings().batch_notebook
    candidates = [Path(override)] if override else []
    candidates.append(Path(__file__).resolve().parent.parent / "notebooks" / NOTEBOOK_NAME)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"batch notebook not found (looked at {', '.join(map(str, candidates))}); "
        "set STORYBENCH_BATCH_NOTEBOOK or install storybench from a source checkout (pip install -e .)"
    )


def _parse_value(text: str) -> Any:
    """A ``-p`` value: JSON when it parses (numbers, booleans, lists, objects), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _at_least_one(text: str) -> int:
    """``--parallel``: a whole number >= 1 (else argparse's usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} plans at once; must be at least 1")
    return value


def _cmd_validate(args: argparse.Namespace) -> int:
    plan, filled = load_plan_with_notes(args.plan)
    print(
        f"{args.plan}: valid plan {plan.id!r}: {len(plan.chapters)} chapter(s), "
        f"{plan.page_count()} page(s), {plan.panel_count()} panel(s)"
    )
    for note in filled:
        print(note)
    for warning in _lettering_warnings(plan):
        print(f"warning: {warning}")
    return 0


def _lettering_warnings(plan: ComicPlan) -> list[str]:
    """Panels whose lettering cannot fit at the minimum readable size (default render settings)."""
    return [str(w) for w in lettering_warnings(plan)]


def _cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(plan_json_schema(), ensure_ascii=False, indent=2)
    if args.output:
        atomic_write_text(args.output, text + "\n")
        print(args.output)
    else:
        print(text)
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {name: _parse_value(value) for name, value in args.param or []}
    defaults = notebook_defaults(batch_notebook_path())
    check_parameters(params, list(defaults))
    check_parameter_values(params, defaults, args.backend)
    if args.force:
        params["force"] = True
    if len(args.plan) > 1 or Path(args.plan[0]).is_dir():
        return render_many(args, params, batch_notebook_path())

    plan_file = args.plan[0]
    plan = load_plan(plan_file)
    print(
        f"rendering {plan.id!r} ({plan.page_count()} page(s), {plan.panel_count()} panel(s)) "
        f"with backend {args.backend!r}"
    )
    printer = None if args.verbose else ProgressPrinter(sys.stdout)
    run = execute_plan_notebook(
        batch_notebook_path(),
        plan_file,
        plan_id=plan.id,
        backend=args.backend,
        output_dir=args.output_dir,
        params=params,
        kernel=args.kernel,
        progress_bar=False,
        stdout=sys.stdout if args.verbose else None,
        stderr=sys.stderr if args.verbose else None,
        on_progress=printer,
    )
    return _report(run, printer.dead_servers() if printer is not None else [])


def _report(run: NotebookRun, dead_servers: list[str]) -> int:
    """Print the end of a one-plan render: its summary, the servers that were still down,
    and where things are (or, failed, why: the first error, naming what was printed)."""
    if run.summary:
        print(run.summary)
    if dead_servers:
        print("servers not answering (or left out) at the end: " + ", ".join(dead_servers))
    if run.error:
        first, *rest = run.error.splitlines() or [""]
        print(f"render failed: {first}", *rest, sep="\n", file=sys.stderr)
        print(f"executed notebook: {run.executed}", file=sys.stderr)
        return 1
    print(f"run folder: {run.run_dir}")
    print(f"executed notebook: {run.executed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``storybench`` command."""
    env = env_settings()
    parser = argparse.ArgumentParser(prog="storybench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="batch-render plans through the batch notebook (papermill)")
    p.add_argument("plan", nargs="+", help="plan JSON file(s), or folder(s) of them: each plan gets its own run")
    p.add_argument(
        "--parallel", type=_at_least_one, default=1, help="plans rendered at once with several plans (default 1)"
    )
    p.add_argument("--backend", default=env.image_backend, help="image backend name (default: %(default)s)")
    p.add_argument("--output-dir", default=env.output_dir, help="outputs folder (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="ignore the cache and render every panel again")
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="notebook parameter, e.g. -p concurrency 4 -p only_pages '[1,2]' (never secrets)",
    )
    p.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    p.add_argument("-v", "--verbose", action="store_true", help="stream the notebook's output")
    p.set_defaults(func=_cmd_render)

    v = sub.add_parser("validate", help="check a plan; exit 1 with the problems")
    v.add_argument("plan")
    v.set_defaults(func=_cmd_validate)

    s = sub.add_parser("schema", help="print the plan JSON Schema")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.set_defaults(func=_cmd_schema)

    add_runs_command(sub, env.output_dir)
    add_workflow_command(sub)
    add_prune_command(sub, env.output_dir)
    add_plan_command(sub)
    add_publish_command(sub)  # without the publish extra it says which extra to install when run
    add_models_command(sub)
    add_world_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    redact_output()  # no secret reaches the terminal or a log line
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:
        if args.debug or os.environ.get("STORYBENCH_DEBUG"):
            raise
        explained = explain(exc)
        for line in explained.lines:
            print(line, file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            _silence_stderr()  # the kernel's shutdown may still print ZMQError / DeadKernelError
        return explained.exit_code


def _silence_stderr() -> None:
    """Send anything printed to stderr from now on (threads, atexit) to the null device."""
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
