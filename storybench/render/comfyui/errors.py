"""ComfyUI server errors, converted to storybench exceptions in plain words.

Three kinds of failure come back from a ComfyUI server:

* HTTP-level: connection refused, timeouts, 408/429/5xx → :class:`BackendUnavailable` /
  :class:`TransientBackendError`, other 4xx → :class:`PermanentBackendError`, by the
  one policy of :mod:`storybench.http_errors` (see :func:`http_error`). A failure that
  means the server is down rather than the request bad (connection refused or dropped,
  timeouts, 502/503/504 from a gateway) is an outage (:func:`is_outage`): the backend
  waits for the server instead of spending attempts;
* validation: ``POST /prompt`` answers 400 with ``{"error": {...}, "node_errors": {...}}``
  → :class:`WorkflowError` naming each node id, class_type, input and value
  (see :func:`prompt_rejected`);
* execution: an ``execution_error`` message (websocket, or ``status.messages`` in
  ``/history``) → :class:`OutOfMemoryError` when the GPU ran out of memory,
  otherwise :class:`PermanentBackendError` (see :func:`execution_failed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from storybench.exceptions import (
    BackendError,
    BackendUnavailable,
    OutOfMemoryError,
    PermanentBackendError,
    TransientBackendError,
    WorkflowError,
)
from storybench.http_errors import error_for_response, error_for_status, error_for_transport, is_retryable_status

__all__ = [
    "BACKEND",
    "GATEWAY_DOWN",
    "describe_node_errors",
    "execution_failed",
    "http_error",
    "is_out_of_memory",
    "is_outage",
    "prompt_rejected",
]

BACKEND = "comfyui"

#: HTTP statuses a gateway answers while the server behind it is down or restarting.
GATEWAY_DOWN = frozenset({502, 503, 504})

_OOM_MARKERS = ("outofmemoryerror", "cuda out of memory", "allocation on device", "out of memory")
_CONNECT_HINT = "is ComfyUI running and is STORYBENCH_COMFYUI_URL right?"
_FORBIDDEN_HINT = "ComfyUI refuses requests with a foreign Origin header or from a disallowed address"


def http_error(exc: Exception, url: str) -> BackendError:
    """Convert an httpx exception (or HTTP status error) to a storybench error, by the
    policy of :mod:`storybench.http_errors` with ComfyUI's hints.

    Args:
        exc: what httpx raised (``HTTPStatusError`` from ``raise_for_status()`` included),
            or the ``ValueError`` of an answer that is not JSON.
        url: the request URL (no credentials).

    Returns:
        :class:`BackendUnavailable` for connection problems and timeouts,
        :class:`TransientBackendError` for 408, 429, 5xx, other transport errors and
        unreadable answers, :class:`PermanentBackendError` for other 4xx answers.
    """
    if isinstance(exc, httpx.HTTPStatusError):
        hint = _FORBIDDEN_HINT if exc.response.status_code == 403 else None
        return error_for_response(BACKEND, exc.response, url=url, hint=hint)
    if isinstance(exc, httpx.HTTPError):
        return error_for_transport(BACKEND, exc, url=url, hint=_CONNECT_HINT)
    return TransientBackendError(BACKEND, f"unreadable answer ({type(exc).__name__}: {exc})", url=url)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the ComfyUI server is down or restarting rather than that the
    request failed: it cannot be reached (:class:`BackendUnavailable`: refused, timed out),
    its connection dropped without an answer, or a gateway in front of it answered 502,
    503 or 504. The backend waits out such a failure instead of spending a job's attempt.
    """
    if isinstance(exc, BackendUnavailable):
        return True
    if not isinstance(exc, TransientBackendError):
        return False
    cause = exc.__cause__
    if isinstance(cause, httpx.HTTPStatusError):
        return cause.response.status_code in GATEWAY_DOWN
    return isinstance(cause, (httpx.TransportError, OSError))


def describe_node_errors(node_errors: Mapping[str, Any]) -> list[str]:
    """One plain line per node error of a 400 ``/prompt`` answer.

    Args:
        node_errors: ``{node_id: {"errors": [...], "class_type": ..., ...}}``.

    Returns:
        Lines like ``node 4 (CheckpointLoaderSimple) input ckpt_name: Value not in list:
        ckpt_name: 'x.safetensors' not in [...]``.
    """
    lines: list[str] = []
    for node_id, info in (node_errors or {}).items():
        class_type = info.get("class_type", "?")
        for err in info.get("errors", []) or []:
            extra = err.get("extra_info") or {}
            where = f"node {node_id} ({class_type})"
            if extra.get("input_name"):
                where += f" input {extra['input_name']}"
            text = err.get("message", "error")
            if err.get("details"):
                text += f": {err['details']}"
            lines.append(f"{where}: {text}")
    return lines


def prompt_rejected(status: int, body: Any, url: str, headers: Mapping[str, str] | None = None) -> BackendError:
    """Convert a failed ``POST /prompt`` answer.

    Args:
        status: HTTP status.
        body: the decoded JSON body, or the raw text when it was not JSON.
        url: the request URL.
        headers: the answer's headers (``Retry-After`` of a 429 or 503).

    Returns:
        :class:`WorkflowError` for a 400 with ``error``/``node_errors`` (the message
        names each node id, class_type, input and value), :class:`TransientBackendError`
        for 408, 429 and 5xx, :class:`PermanentBackendError` otherwise.
    """
    if is_retryable_status(status):
        message = f"POST /prompt failed with HTTP {status}: {str(body)[:300]}"
        return error_for_status(BACKEND, status, message, url=url, headers=headers)
    if isinstance(body, Mapping) and "error" in body:
        error = body.get("error") or {}
        if isinstance(error, str):
            error = {"message": error}
        lines = describe_node_errors(body.get("node_errors") or {})
        head = f"ComfyUI rejected the workflow ({error.get('type', 'error')}): {error.get('message', '')}"
        if error.get("details") and not lines:
            head += f" — {error['details']}"
        message = head + ("".join(f"\n  {line}" for line in lines))
        return WorkflowError(BACKEND, message, url=url)
    return PermanentBackendError(BACKEND, f"POST /prompt failed with HTTP {status}: {str(body)[:300]}", url=url)


def is_out_of_memory(data: Mapping[str, Any]) -> bool:
    """True when an ``execution_error`` message says the device ran out of memory."""
    text = f"{data.get('exception_type', '')} {data.get('exception_message', '')}".lower()
    return any(marker in text for marker in _OOM_MARKERS)


def execution_failed(data: Mapping[str, Any], url: str) -> BackendError:
    """Convert an ``execution_error`` message.

    Args:
        data: the message's ``data`` (``node_id``, ``node_type``, ``exception_type``,
            ``exception_message``, ...).
        url: the server URL.

    Returns:
        :class:`OutOfMemoryError` (transient) when the GPU ran out of memory,
        :class:`PermanentBackendError` otherwise; both name the node and exception.
    """
    node = f"node {data.get('node_id', '?')} ({data.get('node_type', '?')})"
    exc_type = data.get("exception_type", "Exception")
    message = str(data.get("exception_message", "")).strip()
    text = f"{node} failed with {exc_type}: {message}"
    if is_out_of_memory(data):
        return OutOfMemoryError(
            BACKEND,
            f"out of GPU memory: {text}",
            url=url,
            hint="lower the size, close other GPU programs; storybench freed ComfyUI memory for the retry",
        )
    return PermanentBackendError(BACKEND, text, url=url)
