"""A thin client for a RunPod serverless endpoint's job API.

Operations (base ``https://api.runpod.ai/v2/{endpoint_id}``, bearer API key):
``POST /run`` (body up to 10 MB, result kept 30 minutes), ``POST /runsync``
(up to 20 MB), ``GET /status/{id}``, ``POST /cancel/{id}``, ``POST /retry/{id}``
and ``GET /health``. Job statuses: ``IN_QUEUE``, ``IN_PROGRESS`` (``RUNNING`` in
some documents), then one of :data:`FINAL_STATUSES`.

Every httpx error and HTTP failure is converted here into the storybench tree:
connection problems → :class:`~storybench.exceptions.BackendUnavailable`, 408, 429 and
5xx → :class:`~storybench.exceptions.TransientBackendError` (``Retry-After`` honoured),
401/403 and other 4xx → :class:`~storybench.exceptions.PermanentBackendError`, by the
one policy of :mod:`storybench.http_errors`. The API key only ever
travels in the ``Authorization`` header; it is never part of a URL, a message or a log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from storybench.config import env_settings
from storybench.exceptions import (
    ConfigError,
    PermanentBackendError,
    TransientBackendError,
)
from storybench.http_errors import error_for_status, error_for_transport

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_ENDPOINT_ID",
    "FINAL_STATUSES",
    "RUNSYNC_LIMIT_BYTES",
    "RUN_LIMIT_BYTES",
    "RunPodAPI",
    "concurrency_from_health",
]

BACKEND = "runpod"
DEFAULT_BASE_URL = "https://api.runpod.ai/v2"
ENV_API_KEY = "RUNPOD_API_KEY"
ENV_ENDPOINT_ID = "RUNPOD_ENDPOINT_ID"
ENV_BASE_URL = "STORYBENCH_RUNPOD_BASE_URL"
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
RUN_LIMIT_BYTES = 10 * 1024 * 1024
RUNSYNC_LIMIT_BYTES = 20 * 1024 * 1024


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RunPodAPI:
    """Calls one serverless endpoint's job operations.

    Args:
        endpoint_id: the endpoint id; default ``$RUNPOD_ENDPOINT_ID``.
        api_key: the API key; default ``$RUNPOD_API_KEY``. Pass it only from the
            environment (never from saved parameters).
        base_url: API root without the endpoint id; default
            ``$STORYBENCH_RUNPOD_BASE_URL`` or ``https://api.runpod.ai/v2``.
        client: an httpx client to use (its base URL and headers are ignored; the
            caller keeps ownership).
        transport: an httpx transport for a client created here (tests pass
            ``httpx.MockTransport``).
        timeout: per-request timeout, seconds.

    Raises:
        ConfigError: endpoint id or API key missing from the environment.
    """

    def __init__(
        self,
        endpoint_id: str | None = None,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        env = env_settings()
        endpoint_id = endpoint_id or env.runpod_endpoint_id.strip()
        api_key = api_key or os.environ.get(ENV_API_KEY, "").strip()
        if not endpoint_id:
            raise ConfigError(f"RunPod endpoint id missing: set the environment variable {ENV_ENDPOINT_ID}")
        if not api_key:
            raise ConfigError(f"RunPod API key missing: set the environment variable {ENV_API_KEY}")
        root = (base_url or env.runpod_base_url.strip() or DEFAULT_BASE_URL).rstrip("/")
        self.endpoint_id = endpoint_id
        self.base_url = f"{root}/{endpoint_id}"
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._own_client = client is None
        self._client = client or httpx.Client(transport=transport, timeout=timeout)
        self._timeout = timeout

    def __repr__(self) -> str:  # never shows the key
        return f"RunPodAPI({self.base_url!r})"

    # ----------------------------------------------------------------- transport
    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
        allow_404: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any] | None:
        url = f"{self.base_url}{path}"
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            resp = self._client.request(
                method, url, content=body, params=params, headers=headers, timeout=timeout or self._timeout
            )
        except httpx.HTTPError as exc:
            hint = f"network, {ENV_BASE_URL}, or the RunPod API status page"
            raise error_for_transport(BACKEND, exc, url=url, hint=hint, detail=f"{method} {path}") from exc
        if resp.status_code == 404 and allow_404:
            return None
        _raise_for_status(resp, f"{method} {path}", url, body)
        return _json_object(resp, f"{method} {path}", url)

    # ----------------------------------------------------------------- operations
    @staticmethod
    def encode(payload: dict[str, Any]) -> bytes:
        """The exact request body for ``{"input": payload}`` (compact JSON, UTF-8)."""
        return json.dumps({"input": payload}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def run(self, body: bytes) -> dict[str, Any]:
        """``POST /run`` with a body from :meth:`encode`. Returns ``{"id", "status"}``."""
        data = self._request("POST", "/run", body=body)
        assert data is not None
        if not data.get("id"):
            raise TransientBackendError(
                BACKEND, f"POST /run answered without a job id: {_short(json.dumps(data))}", url=f"{self.base_url}/run"
            )
        return data

    def runsync(self, body: bytes, *, wait_ms: int = 90_000) -> dict[str, Any]:
        """``POST /runsync?wait=`` (milliseconds). Returns the status object."""
        data = self._request(
            "POST",
            "/runsync",
            body=body,
            params={"wait": int(wait_ms)},
            timeout=max(self._timeout, wait_ms / 1000 + 10),
        )
        assert data is not None
        return data

    def status(self, job_id: str) -> dict[str, Any] | None:
        """``GET /status/{id}``: ``{"id", "status", "delayTime", "executionTime", "output" | "error"}``,
        or ``None`` when the job is unknown (its result expired)."""
        return self._request("GET", f"/status/{job_id}", allow_404=True)

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """``POST /cancel/{id}``; ``None`` when the job is unknown."""
        return self._request("POST", f"/cancel/{job_id}", allow_404=True)

    def retry(self, job_id: str) -> dict[str, Any] | None:
        """``POST /retry/{id}`` (FAILED or TIMED_OUT jobs not yet expired); ``None`` when unknown."""
        return self._request("POST", f"/retry/{job_id}", allow_404=True)

    def health(self) -> dict[str, Any]:
        """``GET /health``: ``{"jobs": {"inQueue", "inProgress", ...}, "workers": {"idle", "running", ...}}``."""
        data = self._request("GET", "/health")
        assert data is not None
        return data

    def close(self) -> None:
        """Close the httpx client if it was created here."""
        if self._own_client:
            self._client.close()


def concurrency_from_health(health: Mapping[str, Any], minimum: int) -> int:
    """Jobs worth keeping in flight for an endpoint's ``/health``: its active workers
    (idle + running + initializing), but at least ``minimum`` (and 1). ``/health`` shows
    the workers up now, not the endpoint's maximum: keeping a few jobs queued is what
    makes RunPod's autoscaler start more workers, and queued jobs are not billed."""
    workers = health.get("workers") or {}
    active = sum(int(workers.get(k, 0) or 0) for k in ("idle", "running", "initializing"))
    return max(1, minimum, active)


def _raise_for_status(resp: httpx.Response, what: str, url: str, body: bytes | None) -> None:
    """Raise the storybench error for an HTTP error answer of the RunPod API (``what``: ``"POST /run"``)."""
    status = resp.status_code
    if status in (401, 403):
        raise PermanentBackendError(
            BACKEND,
            f"{what}: HTTP {status}, the API key was refused",
            url=url,
            hint=f"check {ENV_API_KEY} (and that it may use this endpoint)",
        )
    if status == 404:
        raise PermanentBackendError(
            BACKEND, f"{what}: HTTP 404, no such endpoint or job", url=url, hint=f"check {ENV_ENDPOINT_ID}"
        )
    if status == 413:
        raise PermanentBackendError(
            BACKEND,
            f"{what}: HTTP 413, request body too large ({len(body or b'')} bytes)",
            url=url,
            hint="smaller reference images, or reference_url_base",
        )
    if status >= 400:
        message = f"{what}: HTTP {status}: {_short(resp.text)}"
        raise error_for_status(BACKEND, status, message, url=url, headers=resp.headers)


def _json_object(resp: httpx.Response, what: str, url: str) -> dict[str, Any]:
    """The answer's JSON object.

    Raises:
        TransientBackendError: the answer is not JSON, or not an object.
    """
    try:
        data = resp.json()
    except ValueError as exc:
        raise TransientBackendError(BACKEND, f"{what}: answer is not JSON: {_short(resp.text)}", url=url) from exc
    if not isinstance(data, dict):
        raise TransientBackendError(BACKEND, f"{what}: expected a JSON object, got {type(data).__name__}", url=url)
    return data
