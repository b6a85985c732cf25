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

import ast
import contextlib
import difflib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storybench.config import RenderSettings
from storybench.exceptions import ConfigError, MissingDependencyError, UnknownBackendError, UsageError
from storybench.messages import validation_sentence
from storybench.redact import MIN_SECRET_CHARS, NOT_SECRET_VARIABLES, looks_secret, secret_key_paths
from storybench.render.base import IMAGE_BACKENDS

__all__ = [
    "KEEP_ORPHANS",
    "ORPHAN_MIN_AGE",
    "check_parameter_values",
    "check_parameters",
    "clean_orphan_notebooks",
    "kernel_stderr_to",
    "notebook_defaults",
    "notebook_parameters",
    "orphan_notebooks",
    "settle_notebook",
]

KEEP_ORPHANS = 5
#: The files of one notebook run in ``.notebooks/``: the executed copy, the result, the
#: kernel's stderr and the progress feed.
RUN_FILE_SUFFIXES = (".ipynb", ".result.json", ".kernel.log", ".events.jsonl")
ORPHAN_MIN_AGE = 3600.0


def notebook_parameters(notebook: str | os.PathLike[str]) -> list[str]:
    """Names of the parameters a notebook declares (its ``parameters``-tagged cell), in order.

    Raises:
        OSError: the notebook cannot be read.
    """
    import papermill as pm

    return list(pm.inspect_notebook(str(notebook)).keys())


def notebook_defaults(notebook: str | os.PathLike[str]) -> dict[str, Any]:
    """A notebook's parameters with their default values (``parameters``-tagged cell, in
    order); a default that is not a Python literal is ``Ellipsis`` (any value allowed).

    Raises:
        OSError: the notebook cannot be read.
    """
    import papermill as pm

    defaults: dict[str, Any] = {}
    for name, info in pm.inspect_notebook(str(notebook)).items():
        try:
            defaults[name] = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError):
            defaults[name] = ...
    return defaults


#: What a notebook parameter's value must be, from the type of its default.
_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    int: ((int,), "a whole number"),
    float: ((int, float), "a number"),
    str: ((str,), "text (a JSON string, e.g. '\"abc\"')"),
    list: ((list,), "a JSON list"),
    dict: ((dict,), "a JSON object"),
}


def check_parameter_values(params: Mapping[str, Any], defaults: Mapping[str, Any], backend: str) -> None:
    """Check every ``-p`` value before any kernel starts: render settings against
    :class:`~storybench.config.RenderSettings` (type and range), ``backend_options``
    against the backend's own check (``check_options``, e.g. the ComfyUI backend's option
    names, types and ranges), any other parameter against the type of the notebook's default.

    Args:
        params: parameter name → decoded value, as given with ``-p``.
        defaults: the notebook's parameters and defaults (:func:`notebook_defaults`).
        backend: the image backend's name (``--backend``).

    Raises:
        UsageError: one sentence naming the parameter, its value and what is allowed,
            ending "nothing was run".
    """
    problem = _settings_problem(params) or _backend_options_problem(params, backend)
    for name, value in params.items():
        if problem:
            break
        if name not in RenderSettings.model_fields and name != "backend_options":
            problem = _type_problem(name, value, defaults.get(name, ...))
    if problem:
        raise UsageError(f"{problem}; nothing was run")


def _type_problem(name: str, value: Any, default: Any) -> str:
    """``-p name value`` against the type of the notebook's ``default`` (``...``: any value;
    ``None``: text or null); ``""`` when it fits."""
    if default is ... or (default is None and (value is None or isinstance(value, str))):
        return ""
    if default is None:
        return f"-p {name}: {value!r}; must be text or null"
    types, words = _KINDS.get(type(default), ((type(default),), type(default).__name__))
    if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
        return ""
    return f"-p {name}: {value!r}; must be {words}"


def _settings_problem(params: Mapping[str, Any]) -> str:
    """The first render-setting ``-p`` value :class:`RenderSettings` refuses, as a sentence."""
    given = {k: v for k, v in params.items() if k in RenderSettings.model_fields}
    try:
        RenderSettings.model_validate(given)
    except ValidationError as exc:
        return validation_sentence(exc, "-p")
    return ""


def _backend_options_problem(params: Mapping[str, Any], backend: str) -> str:
    """What the backend's ``check_options`` says about ``-p backend_options`` (``""``: fine)."""
    if "backend_options" not in params:
        return ""
    options = params["backend_options"]
    if not isinstance(options, dict):
        return f"-p backend_options: {options!r}; must be a JSON object of option names and values"
    try:
        check = getattr(IMAGE_BACKENDS.factory(backend), "check_options", None)
    except (UnknownBackendError, MissingDependencyError):
        return ""  # the notebook says so, as before
    if check is None:
        return ""
    try:
        check(options)
    except ConfigError as exc:
        return f"-p backend_options: {exc}"
    return ""


def _env_secret_paths(value: Any, path: str, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(path, variable)`` for every string in ``value`` holding the value of a secret-named variable."""
    secrets = _secret_values(environ)
    found = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack and secrets:
        item, where = stack.pop()
        if isinstance(item, str):
            found += [(where, name) for secret, name in secrets.items() if secret in item]
        else:
            stack += _parameter_children(item, where)
    return found


def _secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """``{value: variable}`` of the secret-named variables whose values are long enough to look for."""
    return {
        v: k
        for k, v in environ.items()
        if looks_secret(k) and k.upper() not in NOT_SECRET_VARIABLES and len(v) >= MIN_SECRET_CHARS
    }


def _parameter_children(item: Any, where: str) -> list[tuple[Any, str]]:
    """The ``(child, path)`` pairs of an object or a list in a parameter value; ``[]`` for anything else."""
    if isinstance(item, Mapping):
        return [(v, f"{where}.{k}") for k, v in item.items()]
    if isinstance(item, (list, tuple)):
        return [(v, f"{where}[{i}]") for i, v in enumerate(item)]
    return []


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
        files = [p for p in folder.iterdir() if p.name.endswith(RUN_FILE_SUFFIXES)]
    except OSError:
        return []
    doomed = _old_notebooks(files, keep=keep, min_age=min_age)
    return doomed + _companions(files, doomed)


def _old_notebooks(files: list[Path], *, keep: int, min_age: float) -> list[Path]:
    """The notebooks among ``files`` beyond the newest ``keep`` and older than ``min_age`` seconds."""
    notebooks = sorted((p for p in files if p.suffix == ".ipynb"), key=_mtime, reverse=True)
    return [p for p in notebooks[keep:] if time.time() - _mtime(p) >= min_age]


def _companions(files: list[Path], notebooks: list[Path]) -> list[Path]:
    """The result files among ``files`` that belong to ``notebooks`` (same name before the first dot)."""
    stems = {p.stem for p in notebooks}
    return [p for p in files if not p.name.endswith(".ipynb") and p.name.split(".", 1)[0] in stems]


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
