"""Downloading a rendered image from a URL (S3 results of RunPod, Runware's image URLs)."""

from __future__ import annotations

import httpx

from storybench.exceptions import TransientBackendError

__all__ = ["download_image"]


def download_image(client: httpx.Client, url: str, *, backend: str, where: str = "") -> bytes:
    """GET ``url`` with ``client`` and return the body (the image bytes).

    Use a client that carries no credentials: result URLs point at third-party storage.

    Args:
        client: the HTTP client.
        url: the image URL.
        backend: the backend's name, for the error.
        where: what the image belongs to (e.g. ``"job abc"``), prefixed to the error message.

    Raises:
        TransientBackendError: the download failed (network error or an HTTP status ≥ 400);
            the message never contains the URL, which may hold a presigned token.
    """
    prefix = f"{where}: " if where else ""
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        raise TransientBackendError(backend, f"{prefix}cannot download the image: {type(exc).__name__}") from exc
    if resp.status_code >= 400:
        raise TransientBackendError(backend, f"{prefix}image download answered HTTP {resp.status_code}")
    return resp.content
