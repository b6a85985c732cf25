"""The user's workflow templates: add a ComfyUI workflow with its slots found, list, show.

On disk (the contract :meth:`WorkflowTemplate.load` reads): ``<dir>/<name>.json`` (API
format) and ``<dir>/<name>.slots.json`` (slots; ``_added`` records where it came from and
how each slot was found). ``<dir>`` is :func:`~storybench.render.comfyui.workflow.user_workflows_dir`
(``$STORYBENCH_COMFYUI_WORKFLOWS``, else ``workflows/`` next to the outputs folder). The
workflow may be given in the API format (Export (API)), the UI format (Save; converted
with the server's ``/object_info``) or as a PNG saved by ComfyUI (its ``prompt`` text
chunk holds the API format, its ``workflow`` chunk the UI format).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storybench.config import env_settings
from storybench.exceptions import BackendError, WorkflowError
from storybench.files import atomic_write_json
from storybench.render.comfyui.admission import check_admission
from storybench.render.comfyui.client import ComfyUIClient
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.loaders import loader_label
from storybench.render.comfyui.slots_infer import SLOT_WORDS, SlotInference, infer_slots
from storybench.render.comfyui.ui_convert import is_ui_format, ui_to_api
from storybench.render.comfyui.workflow import (
    MODEL_SLOTS,
    WorkflowTemplate,
    shipped_workflows_dir,
    user_workflows_dir,
    workflow_dirs,
)

__all__ = [
    "AddedWorkflow",
    "TemplateInfo",
    "add_workflow",
    "describe_slots",
    "list_workflows",
    "read_workflow_file",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
ObjectInfoSource = Callable[[], Mapping[str, Any]]


@dataclass
class AddedWorkflow:
    """What :func:`add_workflow` wrote.

    Attributes:
        name: the template name (``ComfyUIBackend(workflow=name)``).
        path, slots_path: the files written.
        inference: the slots found and how.
        converted: the input was UI format and was converted.
        template: the template loaded back from the written files.
        api_nodes: the paid API nodes accepted with ``allow_api_nodes`` (``[]`` for none).
    """

    name: str
    path: Path
    slots_path: Path
    inference: SlotInference
    converted: bool
    template: WorkflowTemplate
    api_nodes: list[str] = field(default_factory=list)


@dataclass
class TemplateInfo:
    """One template found by :func:`list_workflows`: name, ``shipped`` or ``user``, files, description."""

    name: str
    source: str
    path: Path
    description: str = ""
    shadows: list[Path] = field(default_factory=list)


def _png_chunks(path: Path) -> dict[str, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return {str(k): v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, UnidentifiedImageError) as exc:
        raise WorkflowError(BACKEND, f"{path}: cannot read the PNG: {exc}") from exc


def read_workflow_file(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """A workflow from a ``.json`` file or a PNG saved by ComfyUI.

    Args:
        path: the file.

    Returns:
        ``(workflow, kind)``: ``kind`` is ``"api"`` or ``"ui"``. A PNG gives its ``prompt``
        chunk (API format) when present, else its ``workflow`` chunk (UI format).

    Raises:
        WorkflowError: unreadable, not JSON (with line and column), a PNG without
            workflow chunks, or neither format.
    """
    p = Path(path)
    if not p.is_file():
        raise WorkflowError(BACKEND, f"{p}: no such file")
    if p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n":
        return _from_png(p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkflowError(BACKEND, f"{p}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowError(BACKEND, f"{p}: cannot read: {exc}") from exc
    return _either_format(p, data)


def _from_png(p: Path) -> tuple[Any, str]:
    chunks = _png_chunks(p)
    for key in ("prompt", "workflow"):
        if key in chunks:
            try:
                data = json.loads(chunks[key])
            except json.JSONDecodeError as exc:
                raise WorkflowError(BACKEND, f"{p}: the PNG's {key!r} chunk is not JSON: {exc.msg}") from exc
            return data, ("api" if key == "prompt" else "ui")
    raise WorkflowError(
        BACKEND, f"{p}: the PNG has no 'prompt' or 'workflow' text chunk (not saved by ComfyUI, or stripped)"
    )


def _either_format(p: Path, data: Any) -> tuple[Any, str]:
    if is_ui_format(data):
        return data, "ui"
    if isinstance(data, Mapping) and isinstance(data.get("prompt"), Mapping) and not data.get("class_type"):
        data = data["prompt"]  # a saved POST /prompt body
    if isinstance(data, Mapping) and data and all(isinstance(n, Mapping) and "class_type" in n for n in data.values()):
        return dict(data), "api"
    raise WorkflowError(
        BACKEND,
        f"{p}: neither an API-format workflow (node id → class_type/inputs) nor a UI-format one (nodes, links)",
    )


def _server_object_info(url: str | None) -> Mapping[str, Any]:
    base = (url or env_settings().comfyui_url).rstrip("/")
    client = ComfyUIClient(base, use_websocket=False)
    try:
        return client.object_info()
    except BackendError as exc:
        raise WorkflowError(
            BACKEND,
            f"converting a UI-format workflow needs each node class's inputs from a ComfyUI server's /object_info, "
            f"and no server answered at {base} ({exc}); start ComfyUI and set STORYBENCH_COMFYUI_URL (or --url), "
            "pass --object-info FILE, or save the workflow with 'Export (API)'",
            url=base,
        ) from exc
    finally:
        client.close()


def _binding_words(slot: str, node: Mapping[str, Any], input_name: str) -> str:
    """How a binding is shown: a model binding by what its loader loads, else its plain words."""
    if slot in MODEL_SLOTS:
        return loader_label(str(node.get("class_type", "")), node.get("inputs") or {}, input_name)
    return SLOT_WORDS.get(slot, slot)


def _model_words(model: tuple[str, str, str], workflow: Mapping[str, Any]) -> str:
    nid, input_name, file_name = model
    node = workflow.get(nid, {})
    label = loader_label(str(node.get("class_type", "")), node.get("inputs") or {}, input_name)
    return f"{file_name} (node {nid} {input_name}: {label})"


def _image_lines(inference: SlotInference, workflow: Mapping[str, Any]) -> list[str]:
    lines = []
    for image in inference.images:
        node = workflow.get(image.node_id, {})
        value = (node.get("inputs") or {}).get("image")
        what = {
            "reference": "reference: filled with the character sheet",
            "control image": "control image: kept as the workflow has it",
            "mask": "mask source: kept as the workflow has it",
        }.get(image.role, "unused: reaches neither the sampler nor the output")
        via = f" ({image.via})" if image.via else ""
        lines.append(f"image input: node {image.node_id} {node.get('class_type', '?')} = {value!r}, {what}{via}")
    return lines


def _binding_line(slot: str, where: Mapping[str, Any], how: str, workflow: Mapping[str, Any]) -> str:
    """One binding in plain words: what it is, the node and input it is bound to (with the
    input's value when simple), and how it was found when not from the graph."""
    node = workflow.get(where["node"], {})
    title = (node.get("_meta") or {}).get("title", "")
    value = (node.get("inputs") or {}).get(where.get("input", ""), None)
    shown = f" = {value!r}" if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    via = {"title": " (from its title)", "choice": " (your choice)"}.get(how, "")
    target = f"input {where['input']}{shown}" if where.get("input") else "its images are the result"
    where_text = f"node {where['node']} {node.get('class_type', '?')} {title!r}"
    words = _binding_words(slot, node, where.get("input", ""))
    return f"{words} [{slot}]: {where_text}, {target}{via}"


def describe_slots(inference: SlotInference, workflow: Mapping[str, Any]) -> list[str]:
    """Plain-language lines for the bindings found, in binding order, e.g.
    ``positive prompt [positive]: node 6 CLIPTextEncode 'Positive Prompt', input text = ''``,
    then each image input and what it is for, the models with what each loads, and notes."""
    order = {name: i for i, name in enumerate(SLOT_WORDS)}
    bindings = sorted(inference.slots.items(), key=lambda item: order.get(item[0], len(order)))
    lines = [_binding_line(slot, where, inference.how.get(slot, ""), workflow) for slot, where in bindings]
    lines.extend(_image_lines(inference, workflow))
    if inference.models:
        lines.append("models (checked in preflight): " + ", ".join(_model_words(m, workflow) for m in inference.models))
    lines.extend(f"note: {n}" for n in inference.notes)
    return lines


def add_workflow(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    choices: Mapping[str, str] | None = None,
    object_info: Mapping[str, Any] | ObjectInfoSource | None = None,
    url: str | None = None,
    folder: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    no_prompt: bool = False,
    allow_api_nodes: bool = False,
) -> AddedWorkflow:
    """Add a ComfyUI workflow as a template, with its slots found by following the graph.

    Args:
        path: a ``.json`` (API or UI format) or a PNG saved by ComfyUI.
        name: template name (default: the file name without extension).
        choices: slot → node id or title (``{"positive": "12"}``) settling ambiguities.
        object_info: the ``/object_info`` to convert a UI-format workflow with (or a
            callable returning it); default: asked from the server at ``url``.
        url: ComfyUI base URL for ``/object_info`` (default ``$STORYBENCH_COMFYUI_URL``).
        folder: where to write (default :func:`user_workflows_dir`).
        overwrite: replace an existing template of that name in ``folder``.
        no_prompt: accept a workflow in which no prompt binding reaches the output.
        allow_api_nodes: accept paid API nodes (told by ``/object_info``, which an
            API-format workflow is checked against only when ``object_info`` or ``url`` is given).

    Returns:
        The written files, the inference and the loaded template.

    Raises:
        WorkflowError: unreadable workflow, no server for a UI-format conversion (names
            the setting), ambiguous slots (names the candidates and ``--slot``), slots
            that do not resolve, no prompt binding that reaches the output (unless
            ``no_prompt``), API nodes (unless ``allow_api_nodes``: see
            :mod:`~storybench.render.comfyui.admission`), or an existing template without ``overwrite``.
    """
    src = Path(path)
    workflow, kind, info = _api_workflow(src, object_info, url)
    name = name or re.sub(r"\.(json|png)$", "", src.name, flags=re.IGNORECASE)
    if not _NAME.match(name):
        raise WorkflowError(BACKEND, f"template name {name!r}: use letters, digits, '_', '-' and '.' (at most 80)")
    inference = _settled(src, workflow, choices)
    paid = check_admission(str(src), workflow, inference, info, no_prompt=no_prompt, allow_api_nodes=allow_api_nodes)
    slots: dict[str, Any] = dict(inference.slots)
    slots["_added"] = {
        "from": str(src.resolve()),
        "format": kind,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "found_by": dict(inference.how),
        **({"api_nodes": paid} if paid else {}),
        **({"no_prompt": True} if no_prompt and "positive" not in inference.slots else {}),
    }
    WorkflowTemplate(workflow, slots, name=name, source=str(src))  # resolves every slot or raises
    out, out_slots = _targets(name, folder, overwrite)
    atomic_write_json(out, workflow)
    atomic_write_json(out_slots, slots)
    return AddedWorkflow(name, out, out_slots, inference, kind == "ui", WorkflowTemplate.load(out), paid)


def _api_workflow(
    src: Path, object_info: Mapping[str, Any] | ObjectInfoSource | None, url: str | None
) -> tuple[dict[str, Any], str, Mapping[str, Any] | None]:
    """The workflow in the API format, its original format and the ``/object_info`` used (asked
    from the server for a UI-format file, or when ``url`` is given)."""
    workflow, kind = read_workflow_file(src)
    info = object_info() if callable(object_info) else object_info
    if info is None and (kind == "ui" or url):
        info = _server_object_info(url)
    if kind == "ui":
        workflow = ui_to_api(workflow, info or {}, source=str(src))
    return workflow, kind, info


def _settled(src: Path, workflow: Mapping[str, Any], choices: Mapping[str, str] | None) -> SlotInference:
    """The inferred bindings; refused when ambiguous or without an output node."""
    inference = infer_slots(workflow, choices)
    if inference.ambiguities:
        raise WorkflowError(
            BACKEND,
            f"{src}: the graph does not settle every slot:\n  "
            + "\n  ".join(map(str, inference.ambiguities))
            + "\n  found so far:\n    "
            + "\n    ".join(describe_slots(inference, workflow)),
        )
    if "output" not in inference.slots:
        raise WorkflowError(BACKEND, f"{src}: no SaveImage or PreviewImage node, so no image would come back")
    return inference


def _targets(name: str, folder: str | os.PathLike[str] | None, overwrite: bool) -> tuple[Path, Path]:
    """The template's two files, refused when they exist (without ``overwrite``)."""
    target = Path(folder) if folder is not None else user_workflows_dir()
    out, out_slots = target / f"{name}.json", target / f"{name}.slots.json"
    if not overwrite and (out.exists() or out_slots.exists()):
        raise WorkflowError(BACKEND, f"a template named {name!r} exists in {target}; pass --force or another --name")
    if not overwrite and target.resolve() == shipped_workflows_dir().resolve() and out.exists():
        raise WorkflowError(BACKEND, f"{name!r} is a shipped template; choose another --name")
    return out, out_slots


def _source(slots_path: Path) -> str:
    if slots_path.parent.resolve() != shipped_workflows_dir().resolve():
        return "user"
    try:
        data = json.loads(slots_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "shipped"
    return "user" if isinstance(data, Mapping) and "_added" in data else "shipped"


def list_workflows() -> list[TemplateInfo]:
    """Every template found by name (:func:`workflow_dirs`, first folder wins), sorted by name,
    with its source (``shipped`` or ``user``) and the files it shadows."""
    found: dict[str, TemplateInfo] = {}
    for folder in workflow_dirs():
        if not folder.is_dir():
            continue
        for slots_path in sorted(folder.glob("*.slots.json")):
            name = slots_path.name[: -len(".slots.json")]
            path = folder / f"{name}.json"
            if not path.is_file():
                continue
            if name in found:
                found[name].shadows.append(path)
                continue
            try:
                data = json.loads(slots_path.read_text(encoding="utf-8"))
                description = str(data.get("_description", "")) if isinstance(data, Mapping) else ""
            except (OSError, ValueError):
                description = "(unreadable slots file)"
            found[name] = TemplateInfo(name, _source(slots_path), path, description)
    return [found[n] for n in sorted(found)]
