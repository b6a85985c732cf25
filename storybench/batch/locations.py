"""Where the batch notebook finds plans and writes outputs, wherever it runs.

The notebook runs in JupyterLab (current folder ``notebooks/``), under papermill from
``storybench render`` (absolute paths passed in), or as a Jupyter Scheduler job, whose
kernel starts in a staging folder outside the project. Relative paths are therefore
resolved against the project folder: ``$STORYBENCH_PROJECT_DIR``, else the storybench
source checkout (the folder holding ``storybench/`` and ``notebooks/``), else the current
folder. Outputs go to ``$STORYBENCH_OUTPUT_DIR`` (relative: to the project folder), else
``<project>/outputs``, which is where ``storybench render`` run from the project writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from storybench.config import env_settings

__all__ = ["default_output_dir", "project_dir", "resolve_plan_path"]


def project_dir() -> Path:
    """The project folder: ``$STORYBENCH_PROJECT_DIR``, else the source checkout, else the current folder."""
    env = env_settings().project_dir
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "notebooks").is_dir() and (checkout / "storybench").is_dir():
        return checkout
    return Path.cwd()


def resolve_plan_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as given when it exists (absolute, or relative to the current folder), else
    relative to :func:`project_dir` (``plans/x.json`` from a scheduled job).

    Raises:
        FileNotFoundError: in neither place; the message names both.
    """
    given = Path(path).expanduser()
    if given.exists():
        return given.resolve()
    in_project = project_dir() / given
    if not given.is_absolute() and in_project.exists():
        return in_project
    raise FileNotFoundError(
        f"plan file {path} not found (looked in {Path.cwd()} and the project folder {project_dir()}; "
        "set STORYBENCH_PROJECT_DIR or give an absolute path)"
    )


def default_output_dir(output_dir: str | os.PathLike[str] | None = None) -> Path:
    """The outputs folder: ``output_dir`` when given (relative: to the current folder), else
    ``$STORYBENCH_OUTPUT_DIR``, else ``outputs``, these two taken inside :func:`project_dir`
    when relative."""
    if output_dir:
        return Path(output_dir).expanduser().resolve()
    chosen = Path(env_settings().output_dir_or("outputs")).expanduser()
    return chosen if chosen.is_absolute() else project_dir() / chosen
