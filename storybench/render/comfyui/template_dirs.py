"""Where workflow templates are found: the shipped ``workflows/`` folder of the storybench
checkout and the user's folders (``$STORYBENCH_COMFYUI_WORKFLOWS``, ``os.pathsep``-separated,
else a ``workflows/`` folder next to the outputs folder). A template is ``<name>.json`` with its
bindings in ``<name>.slots.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from storybench.config import env_settings

__all__ = ["shipped_workflows_dir", "template_names", "user_workflows_dir", "workflow_dirs"]


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
