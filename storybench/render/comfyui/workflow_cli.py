"""``storybench workflow add | show | list``: the user's ComfyUI workflow templates.

``add FILE`` takes an API-format or UI-format ``.json`` or a PNG saved by ComfyUI, finds
its slots by following the graph (:mod:`~storybench.render.comfyui.slots_infer`), writes
``NAME.json`` + ``NAME.slots.json`` into the user's workflows folder and prints the slots
it found; ambiguities exit 1 naming the candidates and the ``--slot slot=ID`` to pass.
``show NAME`` prints a template's slots in plain words; ``list`` lists the templates with
their source (shipped or user).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from storybench.exceptions import StorybenchError, WorkflowError
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.library import add_workflow, describe_slots, list_workflows
from storybench.render.comfyui.slots_infer import SlotInference, infer_slots
from storybench.render.comfyui.workflow import WorkflowTemplate, user_workflows_dir

__all__ = ["add_workflow_command"]


def _choices(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        slot, sep, node = item.partition("=")
        if not sep or not slot.strip() or not node.strip():
            raise WorkflowError(BACKEND, f"--slot {item!r}: expected SLOT=NODE, e.g. --slot positive=12")
        out[slot.strip()] = node.strip()
    return out


def _cmd_add(args: argparse.Namespace) -> int:
    info: Any = None
    if args.object_info:
        try:
            info = json.loads(Path(args.object_info).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkflowError(BACKEND, f"--object-info {args.object_info}: cannot read JSON: {exc}") from exc
    added = add_workflow(
        args.file,
        name=args.name,
        choices=_choices(args.slot),
        object_info=info,
        url=args.url,
        overwrite=args.force,
        no_prompt=args.no_prompt,
        allow_api_nodes=args.allow_api_nodes,
    )
    print(f"added workflow {added.name!r}{' (converted from the UI format)' if added.converted else ''}")
    print(f"  {added.path}\n  {added.slots_path}")
    print("slots found:")
    for line in describe_slots(added.inference, added.template.workflow):
        print(f"  {line}")
    if added.api_nodes:
        print(f"paid API nodes (--allow-api-nodes): {'; '.join(added.api_nodes)}: every panel is a paid call")
    print(
        f'use it with: storybench render PLAN --backend comfyui -p backend_options \'{{"workflow": "{added.name}"}}\''
    )
    return 0


def _template_inference(template: WorkflowTemplate) -> SlotInference:
    found_by: dict[str, str] = {}
    sidecar = Path(template.source).with_name(f"{template.name}.slots.json")
    try:
        added = json.loads(sidecar.read_text(encoding="utf-8")).get("_added")
    except (OSError, ValueError, AttributeError):
        added = None
    if isinstance(added, dict):
        found_by = dict(added.get("found_by") or {})
    inference = SlotInference(
        slots={
            n: ({"node": s.node_id, "input": s.input} if s.input else {"node": s.node_id})
            for n, s in template.slots.items()
        },
        how=found_by,
    )
    inferred = infer_slots(template.workflow)
    inference.models, inference.images = inferred.models, inferred.images
    return inference


def _cmd_show(args: argparse.Namespace) -> int:
    template = WorkflowTemplate.load(args.name)
    print(f"workflow {template.name!r} ({template.source})")
    if template.description:
        print(f"  {template.description}")
    refs = len(template.reference_slots)
    words = "no" if not refs else "yes" if refs == 1 else f"yes, {refs} (the panel's characters, speakers first)"
    print(f"  {len(template.workflow)} nodes; reference image: {words}")
    if template.presets:
        print("  presets: " + ", ".join(f"{k} {v}" for k, v in template.presets.items()))
    if template.prompt_template:
        print(f"  prompt template: {template.prompt_template!r}")
    print("slots:")
    for line in describe_slots(_template_inference(template), template.workflow):
        print(f"  {line}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    items = list_workflows()
    if not items:
        print("no workflow templates found")
        return 0
    width = max(len(i.name) for i in items)
    for info in items:
        extra = f"  (overrides {', '.join(map(str, info.shadows))})" if info.shadows else ""
        print(f"{info.name:<{width}}  {info.source:<7}  {info.path}{extra}")
        if info.description and args.verbose:
            print(f"{'':<{width}}  {'':<7}  {info.description}")
    print(f"user workflows folder: {user_workflows_dir()}")
    return 0


def _run(func: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except StorybenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapped


def add_workflow_command(sub: Any) -> None:
    """Register ``workflow add | show | list`` on the ``storybench`` subparsers ``sub``."""
    w = sub.add_parser("workflow", help="ComfyUI workflow templates: add (slots found automatically), show, list")
    wsub = w.add_subparsers(dest="workflow_command", required=True)

    a = wsub.add_parser("add", help="add a workflow (.json in API or UI format, or a ComfyUI PNG) as a template")
    a.add_argument("file", help="workflow .json (Export (API) or Save) or a PNG saved by ComfyUI")
    a.add_argument("--name", help="template name (default: the file name)")
    a.add_argument(
        "--bind",
        "--slot",
        dest="slot",
        action="append",
        metavar="ROLE=NODE",
        help="bind a role (positive, seed, reference_image...) to a node id or title, settling an ambiguity or "
        "overriding the graph, e.g. --bind positive=12 (repeatable; --slot is the older name)",
    )
    a.add_argument(
        "--no-prompt",
        action="store_true",
        help="accept a workflow in which no prompt input reaches the output (every panel renders the same text)",
    )
    a.add_argument(
        "--allow-api-nodes",
        action="store_true",
        help="accept paid API nodes (each panel is then a paid call through your Comfy account)",
    )
    a.add_argument("--url", help="ComfyUI URL for /object_info (UI format; default $STORYBENCH_COMFYUI_URL)")
    a.add_argument("--object-info", help="a saved /object_info JSON to convert a UI-format workflow with, offline")
    a.add_argument("--force", action="store_true", help="replace a template of the same name")
    a.set_defaults(func=_run(_cmd_add))

    s = wsub.add_parser("show", help="print a template's slots in plain words")
    s.add_argument("name", help="template name or path of a .json with a .slots.json")
    s.set_defaults(func=_run(_cmd_show))

    ls = wsub.add_parser("list", help="list the templates and their source (shipped or user)")
    ls.add_argument("-v", "--verbose", action="store_true", help="show descriptions")
    ls.set_defaults(func=_run(_cmd_list))
