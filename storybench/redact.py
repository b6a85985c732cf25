"""Secrets stay in the environment: found by their name and by their shape, and scrubbed.

Rules:
    * a parameter or option key *looks like a secret* when its name contains
      ``key``, ``token``, ``secret``, ``password``, ``passwd``, ``credential``,
      ``authorization``, ``bearer`` or ``cookie``, or has a word ``auth``, ``pw``,
      ``pwd``, ``pass``, ``passphrase``, ``sig`` or ``signature`` (words split at
      ``_ - .`` and camelCase; case-insensitive), at any depth of nested objects
      and lists; :func:`secret_key_paths` returns the path of each
      (``backend_options.headers.Authorization``) unless its value is ``true``,
      ``false`` or ``null`` (a flag such as ``two_pass`` holds no secret), and of
      each string value that has a secret's shape;
    * a value *has a secret's shape* (:data:`SHAPES`) when it holds a ``Bearer``,
      ``Token`` or ``Basic`` credential (as in an ``Authorization`` header), a URL
      with a password (``scheme://user:pass@host``), a token-like query parameter
      (``?token=``, ``access_token=``, ``sig=``, ``X-Amz-Signature=``...), an AWS
      access key id or secret key, a GCP API key, OAuth token or private key, an
      OpenAI (``sk-``), Hugging Face (``hf_``), GitHub, Slack or Stripe key, or a JWT;
    * a *secret value* is the value of an environment variable whose name looks like
      a secret (``RUNPOD_API_KEY``, ``HF_TOKEN``...), the password of any URL held in
      an environment variable (``STORYBENCH_COMFYUI_URL=http://user:PASS@host``), or
      the value of a secret-looking key, when at least :data:`MIN_SECRET_CHARS` long;
    * :func:`redact` replaces, in a text, every secret value and the secret part of
      every shape with :data:`REDACTED`; :func:`redact_value` does so in every
      string of a JSON-like value (and replaces whole values under secret-looking
      keys); :func:`scrub_notebook` rewrites a notebook or log file that way;
      :class:`RedactingFilter` does it to log records.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from storybench.files import atomic_write_bytes

__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "SECRET_NAME",
    "SHAPES",
    "RedactingFilter",
    "environment_secrets",
    "has_secret_shape",
    "looks_secret",
    "redact",
    "redact_output",
    "redact_value",
    "scrub_notebook",
    "scrub_text",
    "secret_key_paths",
]

SECRET_NAME = re.compile(r"key|token|secret|passw(or)?d|credential|authori[sz]ation|bearer|cookie", re.IGNORECASE)
_SECRET_WORDS = {"auth", "pw", "pwd", "pass", "passphrase", "sig", "signature"}
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
REDACTED = "***"
#: Shorter values are not scrubbed (they would match ordinary text).
MIN_SECRET_CHARS = 6

_QUERY_NAME = (
    r"[A-Za-z0-9_.-]*(?:token|key|sig|signature|secret|password|passwd|pwd|pass|auth|credential)[A-Za-z0-9_.-]*"
)
#: Secret shapes: each pattern's group ``secret`` is what gets replaced.
SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?P<secret>.*?)-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    # a credential after its scheme, with a digit (so "token generation" in prose is not one)
    re.compile(r"\b(?:Bearer|Token|token|bearer)\s+(?P<secret>(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,})"),
    re.compile(r"\b[Bb]asic\s+(?P<secret>(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2})"),
    re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:(?P<secret>[^\s/?#@]+)@"),
    re.compile(r"(?i)[?&;]" + _QUERY_NAME + r"=(?P<secret>[^&#\s\"'<>]+)"),
    re.compile(r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16})\b"),
    # an AWS secret access key: 40 base64 characters, mixed case and digits, as a whole (JSON) string
    re.compile(
        r'(?:^|(?<="))(?P<secret>(?!/)(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[0-9])'
        r'[A-Za-z0-9/+]{40})(?=$|")',
        re.MULTILINE,
    ),
    re.compile(r"\b(?P<secret>AIza[0-9A-Za-z_-]{35})"),
    re.compile(r"\b(?P<secret>ya29\.[0-9A-Za-z_-]{20,})"),
    re.compile(r"\b(?P<secret>sk-[A-Za-z0-9_-]{20,})"),
    re.compile(r"\b(?P<secret>hf_[A-Za-z0-9_]{20,})"),
    re.compile(r"\b(?P<secret>(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}))"),
    re.compile(r"\b(?P<secret>xox[abposr]-[A-Za-z0-9-]{10,})"),
    re.compile(r"\b(?P<secret>[rs]k_(?:live|test)_[A-Za-z0-9]{16,})"),
    re.compile(r"\b(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
)
_URL_PASSWORD = SHAPES[3]


def looks_secret(name: str) -> bool:
    """Whether a parameter, option or variable name looks like it holds a secret."""
    if SECRET_NAME.search(name):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORDS.findall(name))


def has_secret_shape(text: str) -> bool:
    """Whether ``text`` holds something shaped like a secret (see :data:`SHAPES`)."""
    return any(shape.search(text) for shape in SHAPES)


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _secret_entry(key: Any, value: Any) -> bool:
    """A secret-looking key holding something (a flag, ``true``/``false``/``null``, is no secret)."""
    return looks_secret(str(key)) and not (value is None or isinstance(value, bool))


def secret_key_paths(value: Any, path: str = "") -> list[str]:
    """Paths of every secret-looking key, and of every string shaped like a secret, in
    ``value`` (objects and lists, any depth).

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
        if isinstance(item, str) and has_secret_shape(item):
            found.append(where or "$")
            continue
        if isinstance(item, Mapping):
            found += [_child(where, key) for key, child in item.items() if _secret_entry(key, child)]
        stack.extend(reversed(_children(item, where)))
    return found


def _children(item: Any, where: str) -> list[tuple[Any, str]]:
    """The ``(child, path)`` pairs of an object or a list in document order; ``[]`` for anything else."""
    if isinstance(item, Mapping):
        return [(child, _child(where, key)) for key, child in item.items()]
    if isinstance(item, (list, tuple)):
        return [(child, _child(where, i)) for i, child in enumerate(item)]
    return []


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


#: Standard variables whose names only look like secrets: the shell's working folders
#: (``PWD`` is "print working directory", not a password).
NOT_SECRET_VARIABLES = frozenset({"PWD", "OLDPWD"})


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of environment variables whose names look like secrets (but
    :data:`NOT_SECRET_VARIABLES`), and the passwords of URLs in any variable (each at least
    :data:`MIN_SECRET_CHARS` long)."""
    env = os.environ if environ is None else environ
    found = {v for k, v in env.items() if looks_secret(k) and k.upper() not in NOT_SECRET_VARIABLES}
    passwords = _url_passwords(env.values())
    found.update(passwords)
    found.update(unquote(p) for p in passwords)
    return {v for v in found if len(v) >= MIN_SECRET_CHARS}


def _url_passwords(values: Iterable[str]) -> list[str]:
    """The passwords of the URLs (``scheme://user:password@host``) in ``values``, as written."""
    return [m.group("secret") for v in values if "@" in v for m in _URL_PASSWORD.finditer(v)]


def _redact_shapes(text: str) -> tuple[str, int]:
    count = 0
    for shape in SHAPES:
        if shape is SHAPES[0] and "PRIVATE KEY" not in text:
            continue

        def hide(match: re.Match[str]) -> str:
            start, end = match.span("secret")
            return match.group()[: start - match.start()] + REDACTED + match.group()[end - match.start() :]

        text, n = shape.subn(hide, text)
        count += n
    return text, count


def redact(text: str, extra: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret value (the environment's and ``extra``) and the secret
    part of every secret shape replaced by :data:`REDACTED`."""
    secrets = environment_secrets(environ)
    secrets.update(extra)
    text, _ = scrub_text(text, secrets)
    return _redact_shapes(text)[0]


def redact_value(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A copy of a JSON-like value with :func:`redact` applied to every string, and
    every string or number under a secret-looking key replaced by :data:`REDACTED`
    (iterative: no recursion limit)."""
    secrets = environment_secrets(environ)

    def clean(item: Any, under_secret: bool) -> Any:
        if isinstance(item, str):
            if under_secret and len(item) >= 1:
                return REDACTED
            return _redact_shapes(scrub_text(item, secrets)[0])[0]
        if under_secret and isinstance(item, (int, float)) and not isinstance(item, bool):
            return REDACTED
        return item

    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, bool]] = [(value, root, 0, False)]
    while stack:
        item, parent, slot, under = stack.pop()
        if isinstance(item, Mapping):
            copy: dict[Any, Any] = {clean(key, False): None for key in item}  # keys too (a URL as a key)
            parent[slot] = copy
            for key, child in item.items():
                stack.append((child, copy, clean(key, False), under or looks_secret(str(key))))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((child, items, i, under) for i, child in enumerate(item))
        else:
            parent[slot] = clean(item, under)
    return root[0]


class RedactingFilter(logging.Filter):
    """A logging filter that applies :func:`redact` to every record's message (the
    record is formatted first, then its arguments dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


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
    cleaned, shaped = _redact_shapes(cleaned)
    count += shaped
    if count:
        atomic_write_bytes(path, cleaned.encode("utf-8", errors="surrogateescape"))
    return count


class _RedactingStream:
    """A text stream that applies :func:`redact` to each write and passes the rest through."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text) if isinstance(text, str) and len(text) >= MIN_SECRET_CHARS else text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _redacting_factory(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        RedactingFilter().filter(record)
        return record

    make.storybench_redacting = True  # type: ignore[attr-defined]
    return make


def redact_output() -> None:
    """From now on, in this process: :func:`redact` every write to ``sys.stdout`` and
    ``sys.stderr`` and every log record's message (idempotent; the CLI calls it first)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _RedactingStream):
            setattr(sys, name, _RedactingStream(stream))
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "storybench_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(factory))
