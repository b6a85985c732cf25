"""Where workflow templates are found: the shipped ``workflows/`` folder of the storybench
checkout and the user's folders (``$STORYBENCH_COMFYUI_WORKFLOWS``, ``os.pathsep``-separated,
else a ``workflows/`` folder next to the outputs folder). A template is ``<name>.json`` with its
bindings in ``<name>.slots.json``; :func:`template_path`, :func:`slots_sidecar` and
:func:`read_template_json` find and read those files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from storybench.config import env_settings
from storybench.exceptions import WorkflowError
from storybench.render.comfyui.errors import BACKEND

__all__ = [
    "read_template_json",
    "shipped_workflows_dir",
    "slots_sidecar",
    "template_names",
    "template_path",
    "user_workflows_dir",
    "workflow_dirs",
]


def shipped_workflows_dir() -> Path:
    """The ``workflows/`` folder of the storybench checkout (the templates storybench ships)."""
    return Path(__file__).resolve().parents[3] / "workflows"


def user_workflows_dir() -> Path:
    """Where ``storybench workflow add`` writes: the first ``$STORYBENCH_COMFYUI_WORKFLOWS``
    folder, else a ``workflows/`` folder next to the outputs folder (``$STORYBENCH_OUTPUT_DIR``,
    default ``outputs``)."""
    env = env_settings()
    dirs = [p for p in env.comfyui_workflows.split(os.pathsep) if p]
    if dirs:
        return Path(dirs[0])
    return Path(env.output_dir or "outputs").resolve().parent / "workflows"


def workflow_dirs() -> list[Path]:
    """Folders searched for templates by name, first match wins: ``$STORYBENCH_COMFYUI_WORKFLOWS``
    (``os.pathsep``-separated) or else :func:`user_workflows_dir`, then the shipped ``workflows/``."""
    dirs = [Path(p) for p in env_settings().comfyui_workflows.split(os.pathsep) if p]
    if not dirs:
        dirs.append(user_workflows_dir())
    dirs.append(shipped_workflows_dir())
    unique: dict[Path, Path] = {}
    for d in dirs:
        unique.setdefault(d.resolve(), d)
    return list(unique.values())


def template_names() -> list[str]:
    """Names of the templates found in :func:`workflow_dirs`, sorted."""
    names: set[str] = set()
    for d in workflow_dirs():
        if d.is_dir():
            names.update(p.name[: -len(".slots.json")] for p in d.glob("*.slots.json"))
    return sorted(names)


def template_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The ``.json`` file of a template: ``name_or_path`` itself when it ends in ``.json`` or
    exists, else ``<name>.json`` in the first of :func:`workflow_dirs` that holds one.

    Raises:
        WorkflowError: no template of that name (the message lists the known ones and the
            folders searched), or the file does not exist.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".json") or path.exists()):
        path = _named_template(text)
    if not path.is_file():
        raise WorkflowError(BACKEND, f"workflow file {path} does not exist")
    return path


def _named_template(name: str) -> Path:
    """``<name>.json`` in the first folder of :func:`workflow_dirs` holding it; raises if none does."""
    for d in workflow_dirs():
        if (d / f"{name}.json").is_file():
            return d / f"{name}.json"
    raise WorkflowError(
        BACKEND,
        f"no workflow template named {name!r}; known: "
        f"{', '.join(template_names()) or 'none'} (searched {', '.join(map(str, workflow_dirs()))})",
    )


def slots_sidecar(path: Path, name: str) -> Path:
    """The ``<name>.slots.json`` file beside template file ``path``.

    Raises:
        WorkflowError: there is none.
    """
    sidecar = path.with_name(f"{name}.slots.json")
    if not sidecar.is_file():
        raise WorkflowError(
            BACKEND, f"workflow {path} has no slots sidecar {sidecar.name}; write one or pass slots={{...}}"
        )
    return sidecar


def read_template_json(path: Path) -> Any:
    """The JSON held in ``path``.

    Raises:
        WorkflowError: unreadable (naming the error) or not JSON (naming ``file:line:column``).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkflowError(BACKEND, f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except OSError as exc:
        raise WorkflowError(BACKEND, f"{path}: cannot read: {exc}") from exc
