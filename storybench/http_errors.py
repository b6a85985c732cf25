"""One mapping from HTTP and websocket failures to the storybench exception tree.

Every backend that talks to a server (ComfyUI, RunPod, Runware, Ollama, OpenAI-compatible)
converts failures here, at its edge, so a status means the same thing everywhere::

    connect error, DNS, connect/pool timeout   -> BackendUnavailable     (transient)
    read/write timeout                         -> BackendUnavailable     (transient)
    other transport error (dropped connection) -> TransientBackendError
    websocket closed, or its handshake failed  -> TransientBackendError (a 4xx handshake:
                                                  PermanentBackendError, as over HTTP)
    HTTP 408, 429 and every 5xx                -> TransientBackendError  (retried)
    any other HTTP 4xx                         -> PermanentBackendError  (not retried)

A ``Retry-After`` header (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date) on a
retryable answer is parsed into :attr:`TransientBackendError.retry_after
<storybench.exceptions.TransientBackendError.retry_after>` (seconds); the retry loops
(:class:`storybench.llm.retry.RetryPolicy`, :func:`storybench.batch.jobs.call_with_retries`)
wait at least that long before the next attempt.

Backends add what only they know (a hint naming their setting, a special message for
403 or 413) through the ``hint`` and ``detail`` arguments; the class of the error always
follows the table above.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from storybench.exceptions import BackendError, BackendUnavailable, PermanentBackendError, TransientBackendError

__all__ = [
    "RETRYABLE_STATUSES",
    "error_for_response",
    "error_for_status",
    "error_for_transport",
    "is_retryable_status",
    "is_websocket_error",
    "redact",
    "retry_after_seconds",
    "server_message",
    "server_text",
]

#: 4xx statuses worth retrying (every 5xx is too): 408 Request Timeout, 429 Too Many Requests.
RETRYABLE_STATUSES = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
    """True for 408, 429 and every 5xx: the same request may succeed later."""
    return status in RETRYABLE_STATUSES or status >= 500


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or ``None`` when absent or unreadable.

    Args:
        value: the header value: delay-seconds (``"120"``) or an HTTP-date
            (``"Wed, 21 Oct 2015 07:28:00 GMT"``), RFC 9110 section 10.2.3.
        now: the current time for an HTTP-date (default: the clock, UTC).

    Returns:
        A delay in seconds, never negative (a date in the past gives ``0.0``).
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (when non-empty) replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


def server_message(response: httpx.Response, limit: int = 300) -> str:
    """The server's own words about a failed answer: ``error``/``detail``/``message`` of a
    JSON body, else the start of the text; at most ``limit`` characters. The response
    must have been read."""
    try:
        text = response.text
    except UnicodeDecodeError:
        return ""
    return server_text(text, limit)


def server_text(text: str, limit: int = 300) -> str:
    """:func:`server_message` of an answer's body text (for clients with their own response type)."""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:limit]
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict):
            err = err.get("message", err)
        return (err if isinstance(err, str) else json.dumps(err))[:limit]
    return json.dumps(body)[:limit]


def error_for_status(
    backend: str,
    status: int,
    message: str,
    *,
    url: str | None = None,
    hint: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> BackendError:
    """The error for an answer with HTTP ``status`` >= 400 (to ``raise``).

    Args:
        backend: the backend's registered name.
        status: the HTTP status code.
        message: what went wrong, in plain words (no secrets).
        url: the request URL, without credentials.
        hint: what the user should check.
        headers: the answer's headers; ``Retry-After`` sets ``retry_after``.

    Returns:
        :class:`TransientBackendError` (with ``retry_after``) for 408, 429 and 5xx,
        :class:`PermanentBackendError` for any other status.
    """
    if is_retryable_status(status):
        retry_after = retry_after_seconds((headers or {}).get("retry-after") or (headers or {}).get("Retry-After"))
        return TransientBackendError(backend, message, url=url, hint=hint, retry_after=retry_after)
    return PermanentBackendError(backend, message, url=url, hint=hint)


def error_for_response(
    backend: str,
    response: httpx.Response,
    *,
    url: str | None = None,
    hint: str | None = None,
    secret: str | None = None,
    detail: str | None = None,
) -> BackendError:
    """The error for a non-2xx ``response`` (read it first when streamed).

    The message is ``[what: ]HTTP <status> <reason>: <server message>`` with ``secret``
    replaced by ``***``.

    Args:
        backend: the backend's registered name.
        response: the server's answer.
        url: the URL to name (default: the request's URL, which must carry no credentials).
        hint: what the user should check.
        secret: removed from the server's text (an API key).
        detail: what was being done, e.g. ``"POST /run"``, put before the status.
    """
    status = response.status_code
    text = redact(server_message(response), secret)
    head = f"{detail}: " if detail else ""
    message = f"{head}HTTP {status} {response.reason_phrase}" + (f": {text}" if text else "")
    where = url if url is not None else _request_url(response)
    return error_for_status(backend, status, message, url=where, hint=hint, headers=response.headers)


def _request_url(response: httpx.Response) -> str | None:
    try:
        return str(response.request.url.copy_with(query=None))
    except RuntimeError:  # a response built without a request
        return None


def error_for_transport(
    backend: str,
    exc: BaseException,
    *,
    url: str | None = None,
    hint: str | None = None,
    detail: str | None = None,
    secret: str | None = None,
    connecting: bool = False,
) -> BackendError:
    """The error for a request that got no HTTP answer (to ``raise ... from exc``).

    Args:
        backend: the backend's registered name.
        exc: what httpx, websockets or the socket raised. An ``httpx.HTTPStatusError``
            (from ``raise_for_status()``) is mapped by its status like :func:`error_for_response`.
        url: the request URL, without credentials.
        hint: what the user should check.
        detail: what was being done, e.g. ``"GET /status/abc"``.
        secret: removed from the exception's text (an API key).
        connecting: the failure happened while opening the connection, so any transport
            error means the server cannot be reached (:class:`BackendUnavailable`).

    Returns:
        :class:`BackendUnavailable` for connection failures and timeouts,
        :class:`TransientBackendError` for other transport and websocket failures (a
        websocket handshake answered with a 4xx: :class:`PermanentBackendError`).
    """
    head = f"{detail}: " if detail else ""
    kind = type(exc).__name__
    text = redact(str(exc), secret)
    if isinstance(exc, httpx.HTTPStatusError):
        return error_for_response(backend, exc.response, url=url, hint=hint, secret=secret, detail=detail)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, ConnectionRefusedError)):
        return BackendUnavailable(backend, f"{head}cannot connect ({kind}: {text})", url=url, hint=hint)
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return BackendUnavailable(backend, f"{head}timed out ({kind})", url=url, hint=hint)
    status = _handshake_status(exc)
    if status is not None:
        message = f"{head}websocket handshake refused with HTTP {status}"
        return error_for_status(backend, status, message, url=url, hint=hint)
    if isinstance(exc, (httpx.TransportError, OSError, EOFError)) or is_websocket_error(exc):
        if connecting:
            return BackendUnavailable(backend, f"{head}cannot connect ({kind}: {text})", url=url, hint=hint)
        return TransientBackendError(backend, f"{head}connection failed ({kind}: {text})", url=url, hint=hint)
    return PermanentBackendError(backend, f"{head}request failed ({kind}: {text})", url=url, hint=hint)


def is_websocket_error(exc: BaseException) -> bool:
    """True for an exception of the ``websockets`` library (closed connection, bad handshake, ...)."""
    try:  # lazy: websockets is the optional extra storybench[comfyui]
        from websockets.exceptions import WebSocketException
    except ImportError:
        return False
    return isinstance(exc, WebSocketException)


def _handshake_status(exc: BaseException) -> int | None:
    """The HTTP status of a refused websocket handshake (``websockets.InvalidStatus``)."""
    try:  # lazy: websockets is the optional extra storybench[comfyui]
        from websockets.exceptions import InvalidStatus
    except ImportError:
        return None
    return exc.response.status_code if isinstance(exc, InvalidStatus) else None
