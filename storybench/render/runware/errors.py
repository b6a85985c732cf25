"""Runware's errors in the storybench tree, with the API key never shown.

A Runware error whose code says the request is wrong (``invalid...``, ``missing...``,
``unsupported...``, ``...NotFound``, credits) → :class:`PermanentBackendError`; a refused
API key → :class:`PermanentBackendError` "check RUNWARE_API_KEY"; connection problems →
:class:`BackendUnavailable`; other errors and timeouts → :class:`TransientBackendError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from collections.abc import Callable
from typing import Any

from storybench.exceptions import PermanentBackendError, TransientBackendError
from storybench.http_errors import error_for_transport, is_websocket_error

__all__ = ["REDACTED_LOGGERS", "RedactKey", "auth_errors", "convert_error"]

BACKEND = "runware"
ENV_API_KEY = "RUNWARE_API_KEY"
ENV_URL = "STORYBENCH_RUNWARE_URL"
_PERMANENT_CODES = re.compile(
    r"^(invalid|missing|unsupported|unknown|forbidden|insufficient|notAllowed)|NotFound$"
    r"|credits|unauthorized",
    re.IGNORECASE,
)


def auth_errors(message: Any) -> list[str]:
    """The server's messages refusing our ``authentication`` task in one websocket message
    (``{"errors": [{"taskType": "authentication", "message": ...}]}``), else ``[]``."""
    errors = message.get("errors") if isinstance(message, dict) else None
    return [
        str(e.get("message") or "authentication failed")
        for e in errors or []
        if isinstance(e, dict) and e.get("taskType") == "authentication"
    ]


def convert_error(exc: BaseException, where: str, *, timeout: float, url: str | None, api_key: str) -> BaseException:
    """The storybench error for an exception met while talking to Runware.

    Args:
        exc: what the SDK or the network raised.
        where: what was being done, for the message (``"panel p3"``, ``"preflight"``).
        timeout: the backend's timeout, seconds (for the message).
        url: the websocket URL in use.
        api_key: the key, removed from every message.
    """
    from runware.utils import RunwareAPIError  # lazy: optional extra storybench[runware]

    def scrub(text: str) -> str:
        return text.replace(api_key, "***") if api_key else text

    if isinstance(exc, RunwareAPIError):
        return _api_error(exc.error_data, where, scrub)
    if isinstance(exc, (asyncio.TimeoutError, concurrent.futures.TimeoutError)):
        return TransientBackendError(BACKEND, f"{where}: no answer within {timeout:g} s")
    if isinstance(exc, (OSError, EOFError)) or is_websocket_error(exc):
        return error_for_transport(BACKEND, exc, url=url, hint=f"network, or {ENV_URL}", detail=where, secret=api_key)
    text = scrub(str(exc))
    if "timeout" in text.lower():
        return TransientBackendError(BACKEND, f"{where}: {text}")
    return PermanentBackendError(BACKEND, f"{where}: {type(exc).__name__}: {text}")


def _api_error(error_data: Any, where: str, scrub: Callable[[str], str]) -> BaseException:
    """A ``RunwareAPIError``'s data (``{"code", "message", "parameter"?}``) as a storybench error."""
    data = error_data if isinstance(error_data, dict) else {}
    code = str(data.get("code") or "")
    message = scrub(str(data.get("message") or data))
    param = f" (parameter {data['parameter']})" if data.get("parameter") else ""
    text = f"{where}: Runware error {code or '?'}{param}: {message}"
    if code and _PERMANENT_CODES.search(code):
        hint = f"check {ENV_API_KEY}" if "key" in code.lower() or "auth" in code.lower() else None
        return PermanentBackendError(BACKEND, text, hint=hint)
    return TransientBackendError(BACKEND, text)


class RedactKey(logging.Filter):
    """Replaces the API key with ``***`` in every record of the loggers it is added to."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        if self.secret and self.secret in text:
            record.msg, record.args = text.replace(self.secret, "***"), None
        return True


REDACTED_LOGGERS = (
    "runware",
    "runware.base",
    "runware.server",
    "runware.utils",
    "runware.reconnection",
    "websockets",
    "websockets.client",
    "asyncio",
)
