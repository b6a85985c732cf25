"""Secrets stay in the environment: finding secret-looking keys and scrubbing notebooks.

Rules:
    * a parameter or option key *looks like a secret* when its name contains
      ``key``, ``token``, ``secret``, ``password``, ``passwd``, ``credential``,
      ``authorization``, ``bearer`` or ``api_key`` (case-insensitive), at any depth
      of nested objects and lists; :func:`secret_key_paths` returns the path of each
      (``backend_options.headers.Authorization``);
    * a *secret value* is the value of an environment variable whose name looks like
      a secret (``RUNPOD_API_KEY``, ``RUNWARE_API_KEY``, ``HF_TOKEN``...), or of a
      secret-looking key, when it is at least :data:`MIN_SECRET_CHARS` long;
    * :func:`scrub_notebook` replaces every secret value in an executed notebook
      (sources, outputs, metadata, papermill's recorded parameters) with
      :data:`REDACTED` before it is kept, and writes it atomically.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from storybench.files import atomic_write_bytes

__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "SECRET_NAME",
    "environment_secrets",
    "looks_secret",
    "scrub_notebook",
    "scrub_text",
    "secret_key_paths",
]

SECRET_NAME = re.compile(r"key|token|secret|passw(or)?d|credential|authori[sz]ation|bearer|cookie", re.IGNORECASE)
REDACTED = "***"
#: Shorter values are not scrubbed (they would match ordinary text).
MIN_SECRET_CHARS = 6


def looks_secret(name: str) -> bool:
    """Whether a parameter, option or variable name looks like it holds a secret."""
    return bool(SECRET_NAME.search(name))


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def secret_key_paths(value: Any, path: str = "") -> list[str]:
    """Paths of every secret-looking key in ``value`` (objects and lists, any depth).

    Args:
        value: a parameter value (decoded JSON).
        path: the path of ``value`` itself, e.g. the parameter name.

    Returns:
        Paths such as ``backend_options.api_key`` or ``render_params.headers[0].Authorization``,
        in document order; the walk is iterative (no recursion limit).
    """
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, Mapping):
            children = []
            for key, child in item.items():
                child_path = _child(where, key)
                if looks_secret(str(key)):
                    found.append(child_path)
                children.append((child, child_path))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed([(child, _child(where, i)) for i, child in enumerate(item)]))
    return found


def _values_at_secret_keys(value: Any) -> Iterable[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, child in item.items():
                if looks_secret(str(key)) and isinstance(child, (str, int)) and not isinstance(child, bool):
                    yield str(child)
                stack.append(child)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of environment variables whose names look like secrets (at least :data:`MIN_SECRET_CHARS` long)."""
    env = os.environ if environ is None else environ
    return {v for k, v in env.items() if looks_secret(k) and len(v) >= MIN_SECRET_CHARS}


def scrub_text(text: str, secrets: Iterable[str]) -> tuple[str, int]:
    """Replace every occurrence of each secret (and of its JSON-escaped form) in ``text``.

    Returns:
        ``(text, replacements)``.
    """
    count = 0
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True):
        for form in {secret, json.dumps(secret)[1:-1]}:
            n = text.count(form)
            if n:
                text = text.replace(form, REDACTED)
                count += n
    return text, count


def scrub_notebook(
    path: str | os.PathLike[str], *, parameters: Any = None, environ: Mapping[str, str] | None = None
) -> int:
    """Remove secrets from a notebook file in place (atomically).

    Secrets are the environment's (:func:`environment_secrets`) and the values of
    secret-looking keys in ``parameters`` and in the notebook's recorded papermill
    parameters.

    Args:
        path: the ``.ipynb`` file.
        parameters: the parameters it was run with.
        environ: the environment to take secret values from (default ``os.environ``).

    Returns:
        How many occurrences were replaced (the file is rewritten only when > 0).

    Raises:
        OSError: the file cannot be read or written.
    """
    path = Path(path)
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    secrets = environment_secrets(environ)
    secrets.update(_values_at_secret_keys(parameters))
    try:
        recorded = json.loads(text).get("metadata", {}).get("papermill", {}).get("parameters")
    except (ValueError, AttributeError):
        recorded = None
    secrets.update(_values_at_secret_keys(recorded))
    cleaned, count = scrub_text(text, secrets)
    if count:
        atomic_write_bytes(path, cleaned.encode("utf-8", errors="surrogateescape"))
    return count
