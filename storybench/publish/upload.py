"""The upload itself: an HTTP ``PUT`` of the bytes to a presigned S3 URL, with httpx.

The request carries the declared ``Content-Type`` and ``Content-Length`` (the URL
was signed for them). S3 answers 200 on success; 403 with code ``AccessDenied`` and
``Request has expired`` when the URL's lifetime passed, 403 ``SignatureDoesNotMatch``
when the signature does not fit the request, and 5xx when it is busy
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).

The URL is a credential for the object: it is never put in messages or logs; only
its host is.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import httpx

__all__ = ["UploadExpired", "UploadFailed", "expired", "put_presigned"]

_EXPIRED = re.compile(r"Request has expired|<Code>ExpiredToken</Code>", re.I)
_CODE = re.compile(r"<Code>([^<]{1,80})</Code>")


class UploadFailed(Exception):
    """The object store did not take the upload (internal: the publisher retries with a new URL).

    Attributes:
        status: the HTTP status, ``0`` when no answer came.
        code: the S3 error code (``SignatureDoesNotMatch``...) or the transport error's name.
    """

    def __init__(self, host: str, status: int, code: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"PUT to {host} answered {status or 'nothing'} {code}".strip())


class UploadExpired(UploadFailed):
    """The presigned URL expired before or during the upload."""


def expired(expires_at: int, *, margin_seconds: float = 5.0, now: float | None = None) -> bool:
    """Whether a URL expiring at ``expires_at`` (Unix seconds) is too close to use."""
    return expires_at > 0 and expires_at - margin_seconds <= (time.time() if now is None else now)


def put_presigned(http: httpx.Client, url: str, data: bytes, content_type: str, *, timeout: float = 120.0) -> None:
    """``PUT`` ``data`` (bytes) to the presigned ``url``.

    Raises:
        UploadExpired: S3 says the URL expired.
        UploadFailed: any other refusal, a 5xx, or no answer (the error names the host only).
    """
    host = urlsplit(url).netloc
    try:
        response = http.put(
            url,
            content=data,
            headers={"Content-Type": content_type, "Content-Length": str(len(data))},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise UploadFailed(host, 0, type(exc).__name__) from exc
    if 200 <= response.status_code < 300:
        return
    body = response.text[:2000]
    match = _CODE.search(body)
    code = match.group(1) if match else ""
    if response.status_code == 403 and _EXPIRED.search(body):
        raise UploadExpired(host, response.status_code, code or "expired")
    raise UploadFailed(host, response.status_code, code)
