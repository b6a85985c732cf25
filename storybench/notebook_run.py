"""Running the batch notebook for the CLI: parameters checked first, executed copies kept clean.

On-disk contract: papermill writes the executed notebook to
``<output_dir>/.notebooks/<plan_id>-<token>.ipynb`` while it runs; when the run ends
the copy is checked (a file that is not complete JSON — a full disk, a kill — is
deleted), scrubbed of secrets (:func:`storybench.redact.scrub_notebook`) and moved
into its run folder as ``batch_render.ipynb``. Copies whose run never finished stay
in ``.notebooks/`` and are *orphans*: each render deletes the orphans beyond the
newest :data:`KEEP_ORPHANS` that are older than :data:`ORPHAN_MIN_AGE` seconds
(younger ones may belong to a render still running).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from storybench.cli_errors import UsageError
from storybench.exceptions import ConfigError
from storybench.redact import MIN_SECRET_CHARS, looks_secret, secret_key_paths

__all__ = [
    "KEEP_ORPHANS",
    "ORPHAN_MIN_AGE",
    "check_parameters",
    "clean_orphan_notebooks",
    "kernel_stderr_to",
    "notebook_parameters",
    "orphan_notebooks",
    "settle_notebook",
]

KEEP_ORPHANS = 5
ORPHAN_MIN_AGE = 3600.0


def notebook_parameters(notebook: str | os.PathLike[str]) -> list[str]:
    """Names of the parameters a notebook declares (its ``parameters``-tagged cell), in order.

    Raises:
        OSError: the notebook cannot be read.
    """
    import papermill as pm

    return list(pm.inspect_notebook(str(notebook)).keys())


def _env_secret_paths(value: Any, path: str, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(path, variable)`` for every string in ``value`` holding the value of a secret-named variable."""
    secrets = {v: k for k, v in environ.items() if looks_secret(k) and len(v) >= MIN_SECRET_CHARS}
    found = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack and secrets:
        item, where = stack.pop()
        if isinstance(item, str):
            found += [(where, name) for secret, name in secrets.items() if secret in item]
        elif isinstance(item, Mapping):
            stack += [(v, f"{where}.{k}") for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            stack += [(v, f"{where}[{i}]") for i, v in enumerate(item)]
    return found


def check_parameters(
    params: Mapping[str, Any], known: Iterable[str] | None, environ: Mapping[str, str] | None = None
) -> None:
    """Refuse secret-looking parameters (at any depth) and names the notebook does not declare.

    Args:
        params: parameter name → decoded value, as given with ``-p``.
        known: the notebook's parameter names (``None``: do not check names).
        environ: the environment whose secret values may not appear in a parameter
            (default ``os.environ``).

    Raises:
        ConfigError: a parameter name or a nested option key looks like a secret, or a
            value holds the value of a secret environment variable (the message gives
            the path and the variable, never the value).
        UsageError: an unknown parameter name; the message lists the known names,
            closest match first.
    """
    for name, value in params.items():
        paths = ([name] if looks_secret(name) else []) + secret_key_paths(value, name)
        if paths:
            raise ConfigError(
                f"refusing parameter {paths[0]!r}: secrets are never notebook parameters (they would be saved "
                "in the executed notebook); set them in the environment instead (e.g. RUNPOD_API_KEY)"
            )
        leaked = _env_secret_paths(value, name, os.environ if environ is None else environ)
        if leaked:
            where, variable = leaked[0]
            raise ConfigError(
                f"refusing parameter {where!r}: it holds the value of ${variable}; secrets are never notebook "
                "parameters (backends read them from the environment)"
            )
    if known is None:
        return
    known = list(known)
    for name in params:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=len(known), cutoff=0.0)
            raise UsageError(
                f"unknown notebook parameter {name!r}; known (closest first): {', '.join(close)}\n"
                "nothing was run: correct the -p name"
            )


@contextlib.contextmanager
def kernel_stderr_to(path: Path) -> Iterator[None]:
    """While inside, processes started from here (the Jupyter kernel) write their stderr to
    ``path`` instead of the terminal, so a kernel's own log lines and shutdown tracebacks
    (after a Ctrl-C) never reach the user; this process keeps writing to the terminal.

    The descriptor 2 that children inherit is pointed at ``path``; ``sys.stderr`` is
    pointed at a copy of the original. Both are restored on exit.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    old_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(old_stderr, "encoding", None) or "utf-8")
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = old_stderr
        os.dup2(saved, 2)
        os.close(saved)
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()


def settle_notebook(path: Path) -> bool:
    """Delete ``path`` when it is not a complete notebook (truncated by a full disk or a kill).

    Returns:
        Whether a complete notebook is there.
    """
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
        return isinstance(data, dict) and "cells" in data
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return False


def orphan_notebooks(
    work_dir: str | os.PathLike[str], *, keep: int = KEEP_ORPHANS, min_age: float = ORPHAN_MIN_AGE
) -> list[Path]:
    """The orphaned executed notebooks (and their result files) in ``work_dir`` beyond the
    newest ``keep`` and older than ``min_age`` seconds (a younger one may be written by a
    render still running): what :func:`clean_orphan_notebooks` deletes."""
    folder = Path(work_dir)
    try:
        files = [p for p in folder.iterdir() if p.name.endswith((".ipynb", ".result.json", ".kernel.log"))]
    except OSError:
        return []
    notebooks = sorted((p for p in files if p.suffix == ".ipynb"), key=_mtime, reverse=True)
    doomed = [p for p in notebooks[keep:] if time.time() - _mtime(p) >= min_age]
    stems = {p.stem for p in doomed}
    companions = [p for p in files if not p.name.endswith(".ipynb") and p.name.split(".", 1)[0] in stems]
    return doomed + companions


def clean_orphan_notebooks(
    work_dir: str | os.PathLike[str], *, keep: int = KEEP_ORPHANS, min_age: float = ORPHAN_MIN_AGE
) -> list[Path]:
    """Delete :func:`orphan_notebooks` of ``work_dir``.

    Returns:
        The deleted paths.
    """
    removed = []
    for path in orphan_notebooks(work_dir, keep=keep, min_age=min_age):
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
