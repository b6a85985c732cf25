"""No presigned URL in any log line: a logging filter that cuts the query off every URL.

A presigned S3 URL is a credential for its object until it expires: its query holds
``X-Amz-Credential`` and ``X-Amz-Signature``. httpx logs every request at ``INFO``
(``HTTP Request: PUT https://…?X-Amz-…``) and httpcore at ``DEBUG``; the publisher
itself never logs a URL. :func:`redact_presigned_urls` installs :class:`RedactQueries`
on those loggers (and on ``storybench``), at every level: a record is formatted once,
each ``http(s)://`` URL in it loses its query (``?…`` becomes ``?<redacted>``), and any
stray ``X-Amz-Signature=…`` or ``X-Amz-Credential=…`` is blanked.
"""

from __future__ import annotations

import logging
import re

__all__ = ["REDACTED_QUERY", "RedactQueries", "redact_presigned_urls", "redact_text"]

REDACTED_QUERY = "?<redacted>"

_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]+)\?(?!<redacted>)[^\s#\"'<>]*", re.IGNORECASE)
_AMZ = re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token))=(?!<redacted>)[^&\s\"'<>]*", re.IGNORECASE)

#: Loggers that may see an upload URL: httpx (INFO), httpcore and its children (DEBUG), ours.
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "storybench",
)


def redact_text(text: str) -> str:
    """``text`` with the query of every URL and every ``X-Amz-Signature=`` value removed."""
    return _AMZ.sub(r"\1=<redacted>", _URL_QUERY.sub(r"\1" + REDACTED_QUERY, text))


class RedactQueries(logging.Filter):
    """Rewrites a log record so its message carries no URL query (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactQueries()


def redact_presigned_urls(extra: tuple[str, ...] = ()) -> None:
    """Install :class:`RedactQueries` on the loggers that may see an upload URL (idempotent).

    A filter on a logger applies to the records logged on that logger, whatever handler
    shows them later (the CLI's, a notebook's, pytest's).

    Args:
        extra: more logger names to cover.
    """
    for name in (*LOGGERS, *extra):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
