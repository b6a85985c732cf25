"""RunPod serverless image backend (worker-comfyui endpoints).

:class:`RunPodBackend` renders each panel as one RunPod job: it fills a ComfyUI
workflow template from the :class:`~storybench.render.spec.RenderSpec`, submits it
with ``POST /run`` (reference images inline as base64), polls ``GET /status/{id}``
with backoff until a final status, and downloads the image (base64 or S3 URL).
The batch engine calls :meth:`RunPodBackend.render` from several threads; each
call keeps one job in flight, and ``max_in_flight`` caps them all.

Errors:
    * FAILED / TIMED_OUT jobs → :class:`TransientBackendError` with the worker's whole
      message (top-level ``error``, ``output.error`` and ``output.details``, e.g.
      ``Job processing failed: Workflow execution error: Node Type: KSampler, Node ID:
      31, Message: ...``); an out-of-memory text → :class:`OutOfMemoryError`.
    * A job that failed because the worker's ComfyUI was not up yet (a cold worker:
      ``ComfyUI server ... not reachable``) → submitted again (up to ``max_resubmits``),
      without spending one of the engine's attempts.
    * HTTP 429/5xx and network errors from the RunPod API → an outage: the call is
      repeated about once a second, without spending attempts, until it answers; past
      ``outage_seconds`` → :class:`~storybench.exceptions.OutageError` (the job in flight
      is cancelled).
    * A result that expired (``/status`` 404 for a job we submitted) → submitted again.
    * HTTP 401/403 → :class:`PermanentBackendError` "check RUNPOD_API_KEY".
    * A request over the ``/run`` limit (10 MB) → :class:`PermanentBackendError` before sending.
    * :meth:`RunPodBackend.cancel` → ``POST /cancel/{id}`` for every job in flight;
      their ``render`` calls raise :class:`Cancelled`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from storybench.config import env_settings
from storybench.exceptions import (
    BackendError,
    Cancelled,
    ConfigError,
    OutageError,
    TransientBackendError,
)
from storybench.render.base import ImageBackend
from storybench.render.comfyui.workflow import WorkflowTemplate
from storybench.render.download import download_image
from storybench.render.runpod.api import FINAL_STATUSES, RUN_LIMIT_BYTES, RunPodAPI, concurrency_from_health
from storybench.render.runpod.jobs import Job, Submission
from storybench.render.runpod.outage import ApiOutage
from storybench.render.runpod.payload import OutputImage, is_cold_worker, job_error_text
from storybench.render.runpod.request import request_body
from storybench.render.runpod.result import FinishedJob, job_result
from storybench.render.runpod.workflows import WorkflowBuilder, template_workflow_builder
from storybench.render.spec import RenderResult, RenderSpec

__all__ = ["RunPodBackend", "concurrency_from_health"]

log = logging.getLogger(__name__)
BACKEND = "runpod"
T = TypeVar("T")


def _check_options(max_in_flight: int | None, poll_interval: float, max_poll_interval: float) -> None:
    if max_in_flight is not None and max_in_flight < 1:
        raise ConfigError(f"max_in_flight: must be at least 1, got {max_in_flight}")
    if poll_interval <= 0 or max_poll_interval < poll_interval:
        raise ConfigError(f"poll_interval/max_poll_interval: need 0 < {poll_interval} <= {max_poll_interval}")


class RunPodBackend(ImageBackend):
    """Renders panels on a RunPod serverless endpoint running worker-comfyui.

    The endpoint id and API key come from the environment only (``RUNPOD_ENDPOINT_ID``,
    ``RUNPOD_API_KEY``); the API root from ``STORYBENCH_RUNPOD_BASE_URL`` (default
    ``https://api.runpod.ai/v2``).

    Args:
        workflow: ComfyUI template (name or path) for panels with reference images.
        text_workflow: template for panels without reference images (``None``: ``workflow``).
        workflow_builder: ``(spec, reference_name) -> API-format workflow``; replaces the
            templates (tests, custom graphs). ``reference_name`` is the input-folder name of
            the first reference image, or ``None``.
        max_in_flight: most jobs submitted and not finished at once, over all threads;
            also the engine's default concurrency. ``None``: derived from ``/health``
            in :meth:`preflight` (active workers, at least 4; see :func:`concurrency_from_health`).
        poll_interval: first delay between ``/status`` polls, seconds; grows ×1.5 per poll.
            Once jobs have completed, a job's first poll waits 85% of their average
            queue + execution time, then polls finely from ``poll_interval`` again.
        max_poll_interval: longest delay between polls, seconds.
        job_timeout: longest wait for one job (queue + run), seconds; the job is then
            cancelled and a transient error raised.
        request_timeout: timeout of each HTTP request, seconds.
        price_per_second: your endpoint's GPU price, USD per second; adds ``cost``
            (``execution_time_ms/1000 * price``) to metrics.
        reference_url_base: send reference images as ``<base>/<name>`` URLs instead of
            base64 (you upload them there; the worker must accept URLs).
        max_request_bytes: refuse bodies above this many bytes (``/run`` limit, 10 MB).
        max_resubmits: how often a job whose result expired, or that failed on a cold
            worker, is submitted again.
        outage_seconds: how long API calls failing with 429/5xx or network errors are
            repeated before :class:`~storybench.exceptions.OutageError`, seconds; default
            ``$STORYBENCH_OUTAGE_SECONDS`` or 600.
        client: an httpx client for the API (caller keeps ownership).
        transport: an httpx transport for the clients created here (API and downloads).

    Raises:
        ConfigError: environment variables missing or options out of range.
    """

    name = "runpod"
    version = "1"
    default_concurrency = 4

    def __init__(
        self,
        *,
        workflow: str = "flux1_kontext",
        text_workflow: str | None = "flux1_dev",
        workflow_builder: WorkflowBuilder | None = None,
        max_in_flight: int | None = None,
        poll_interval: float = 1.0,
        max_poll_interval: float = 5.0,
        job_timeout: float = 1800.0,
        request_timeout: float = 30.0,
        price_per_second: float | None = None,
        reference_url_base: str | None = None,
        max_request_bytes: int = RUN_LIMIT_BYTES,
        max_resubmits: int = 2,
        outage_seconds: float | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        _check_options(max_in_flight, poll_interval, max_poll_interval)
        self.api = RunPodAPI(client=client, transport=transport, timeout=request_timeout)
        if workflow_builder is not None:
            self._build = workflow_builder
            self._identity: Callable[[RenderSpec], str] = lambda spec: "custom"
        else:
            self._build, self._identity = template_workflow_builder(workflow, text_workflow)
        self._workflow: str | None = None if workflow_builder is not None else workflow
        self._text_workflow: str | None = None if workflow_builder is not None else text_workflow
        self.max_in_flight = max_in_flight
        self.default_concurrency = max_in_flight or type(self).default_concurrency
        self._slots = threading.BoundedSemaphore(max_in_flight) if max_in_flight else None
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.job_timeout = job_timeout
        self.price_per_second = price_per_second
        self.reference_url_base = reference_url_base
        self.max_request_bytes = max_request_bytes
        self.max_resubmits = max_resubmits
        budget = float(env_settings().outage_seconds if outage_seconds is None else outage_seconds)
        self._download = httpx.Client(transport=transport, timeout=request_timeout, follow_redirects=True)
        self._lock = threading.Lock()
        self._in_flight: dict[str, Job] = {}
        self._generation = 0
        self._expected_seconds: float | None = None
        self._wake = threading.Condition(self._lock)
        self._outage = ApiOutage(budget, self._lock)

    @property
    def outage_seconds(self) -> float:
        """How long failing API calls are repeated before :class:`OutageError`, seconds (settable)."""
        return self._outage.budget_seconds

    @outage_seconds.setter
    def outage_seconds(self, seconds: float) -> None:
        self._outage.budget_seconds = float(seconds)

    def _reference_slots(self) -> list[str] | None:
        """The reference bindings of ``workflow``; None with a builder, without a text
        workflow (nothing could render the sheets) or when the template does not load."""
        if self._workflow is None or not self._text_workflow:
            return None
        try:
            return WorkflowTemplate.load(self._workflow).reference_slots
        except Exception:
            return None

    @property
    def supports_reference_images(self) -> bool:
        """True when ``workflow`` is a template with a ``reference_image`` slot (e.g.
        ``flux1_kontext``) and ``text_workflow`` is set: the batch engine then renders
        character sheets first (text workflow) and sends each panel its characters'
        sheets as references (base64 in the job input). False with a ``workflow_builder``
        or when the template cannot be loaded (:meth:`preflight` reports why)."""
        return bool(self._reference_slots())

    @property
    def max_reference_images(self) -> int:
        """The reference inputs of ``workflow`` (``reference_image``, ``reference_image_2``...), at least 1."""
        return max(1, len(self._reference_slots() or ()))

    # ------------------------------------------------------------------ identity
    def cache_identity(self, spec: RenderSpec) -> str:
        """Backend version plus the workflow template's name, hash and settings."""
        return f"{self.version}:" + hashlib.sha256(self._identity(spec).encode("utf-8")).hexdigest()[:32]

    def run_identity(self) -> dict[str, Any]:
        """Non-secret options that shape a run (resume key): the endpoint's URL and the workflows."""
        return {
            "endpoint": self.api.base_url,
            "workflow": self._workflow or "custom",
            "text_workflow": self._text_workflow,
        }

    @property
    def status_text(self) -> str:
        """``waiting for the RunPod API at URL (down 23 s)`` while its calls fail, else ``""``."""
        down = self._outage.down_seconds()
        if down is None:
            return ""
        return f"waiting for the RunPod API at {self.api.base_url} (down {down:.0f} s)"

    def _api_call(self, fn: Callable[[], T], generation: int, job_id: str | None = None) -> T:
        """``fn()`` (one RunPod API call), repeated about once a second while the API fails with
        429/5xx or a network error: an outage, not a failed attempt.

        Raises:
            OutageError: the API kept failing for ``outage_seconds`` (``job_id`` is cancelled).
            Cancelled: :meth:`cancel` was called meanwhile.
        """
        while True:
            try:
                result = fn()
            except TransientBackendError as exc:
                since_wall, expired = self._outage.failed(exc)
                if expired is not None:
                    if job_id is not None:
                        self._cancel_job(job_id)
                    raise OutageError(BACKEND, "the RunPod API", [self.api.base_url], since_wall, expired) from exc
                self._sleep(min(1.0, self.max_poll_interval), generation)
                continue
            self._outage.answered()
            return result

    # ------------------------------------------------------------------ payload
    def build_request(self, spec: RenderSpec) -> bytes:
        """The exact ``/run`` body for ``spec`` (``{"input": {"workflow", "images"?}}``).

        Raises:
            PermanentBackendError: a reference image is missing, or the body exceeds
                ``max_request_bytes`` (the message names both sizes).
            WorkflowError: the workflow cannot be built for this spec.
        """
        return request_body(spec, self._build, self.reference_url_base, self.max_request_bytes)

    # ------------------------------------------------------------------ lifecycle
    def preflight(self, specs: Sequence[RenderSpec]) -> dict[str, Any]:
        """Check the endpoint (``/health``: key and endpoint id valid) and build every
        request once (templates resolve, sizes within the limit; a spec whose reference
        image does not exist yet — a character sheet the engine renders first — only has
        its workflow built). Sets
        :attr:`default_concurrency` from the worker counts unless ``max_in_flight`` was given.

        Returns:
            ``{"endpoint_workers": {...}, "endpoint_jobs": {...}, "concurrency": n,
            "largest_request_bytes": n}``.

        Raises:
            PermanentBackendError: bad key/endpoint, or a request that cannot be sent.
            BackendUnavailable: the API cannot be reached.
        """
        health = self._api_call(self.api.health, self._generation)
        largest = 0
        for spec in specs:
            if spec.reference_images and not all(Path(p).is_file() for p in spec.reference_images):
                # a character sheet this run renders first: check that the workflow builds;
                # the request's size is checked when the panel is rendered
                self._build(spec, "sb_ref_preflight.png")
                continue
            largest = max(largest, len(self.build_request(spec)))
        if self.max_in_flight is None:
            self.default_concurrency = concurrency_from_health(health, type(self).default_concurrency)
        return {
            "endpoint_workers": health.get("workers", {}),
            "endpoint_jobs": health.get("jobs", {}),
            "concurrency": self.default_concurrency,
            "largest_request_bytes": largest,
        }

    def render(self, spec: RenderSpec) -> RenderResult:
        """Render one panel as one RunPod job (see the module docstring for errors).

        Metrics: ``runpod_job_id``, ``delay_time_ms``, ``execution_time_ms``,
        ``queue_seconds``, ``execution_seconds``, ``round_trip_seconds``,
        ``submissions``, ``worker_errors`` (non-fatal), and ``cost`` (USD) with
        ``price_per_second``.
        """
        with self._lock:
            generation = self._generation
        body = self.build_request(spec)
        if self._slots is not None:
            while not self._slots.acquire(timeout=0.2):
                self._check_cancelled(generation)
        try:
            return self._run_job(spec, body, generation)
        finally:
            if self._slots is not None:
                self._slots.release()

    def _check_cancelled(self, generation: int) -> None:
        if self._generation != generation:
            raise Cancelled("RunPod render cancelled")

    def _submit(self, body: bytes, generation: int) -> Job:
        self._check_cancelled(generation)
        data = self._api_call(lambda: self.api.run(body), generation)
        job = Job(str(data["id"]), generation)
        with self._lock:
            self._in_flight[job.id] = job
            cancelled = self._generation != generation
        if cancelled:  # cancel() ran while /run was in the air
            self._cancel_job(job.id)
            self._forget(job)
            raise Cancelled("RunPod render cancelled")
        log.debug("submitted RunPod job %s", job.id)
        return job

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._in_flight.pop(job.id, None)

    def _sleep(self, seconds: float, generation: int) -> None:
        with self._wake:
            if self._generation == generation:
                self._wake.wait(seconds)
        self._check_cancelled(generation)

    def _run_job(self, spec: RenderSpec, body: bytes, generation: int) -> RenderResult:
        started = time.monotonic()
        run = Submission(self._submit(body, generation), time.monotonic(), 1, self.poll_interval)
        try:
            while True:
                self._check_job_timeout(spec, run.job, started)
                self._wait_before_poll(run, generation)
                status = self._api_call(functools.partial(self.api.status, run.job.id), generation, run.job.id)
                if status is None:  # result expired or job unknown: submit again
                    if run.count > self.max_resubmits:
                        raise TransientBackendError(
                            BACKEND, f"job {run.job.id}: /status keeps answering 404 after {run.count} submission(s)"
                        )
                    log.info("RunPod job %s is unknown to /status (result expired?); submitting again", run.job.id)
                    self._resubmit(run, body, generation)
                    continue
                state = str(status.get("status", ""))
                if state not in FINAL_STATUSES:
                    continue
                if state == "FAILED" and is_cold_worker(job_error_text(status)) and run.count <= self.max_resubmits:
                    log.info(
                        "RunPod job %s failed on a cold worker (%s); submitting again",
                        run.job.id,
                        job_error_text(status),
                    )
                    self._resubmit(run, body, generation)
                    continue
                return self._finish(spec, run, status, started, generation)
        finally:
            self._forget(run.job)

    def _check_job_timeout(self, spec: RenderSpec, job: Job, started: float) -> None:
        if time.monotonic() - started > self.job_timeout:
            self._cancel_job(job.id)
            raise TransientBackendError(
                BACKEND,
                f"job {job.id} (panel {spec.panel_id or '?'}) did not "
                f"finish within job_timeout={self.job_timeout:g} s; cancelled it",
            )

    def _wait_before_poll(self, run: Submission, generation: int) -> None:
        """Sleep before the next ``/status``: through most of the learnt job time, else with backoff."""
        expected = self._expected_seconds
        elapsed = time.monotonic() - run.submitted
        if expected is not None and elapsed < 0.85 * expected:
            # jobs have been taking ``expected`` s: sleep through most of it, then poll finely
            self._sleep(max(self.poll_interval, 0.85 * expected - elapsed), generation)
        else:
            self._sleep(run.delay, generation)
            run.delay = min(run.delay * 1.5, self.max_poll_interval)

    def _resubmit(self, run: Submission, body: bytes, generation: int) -> None:
        self._forget(run.job)
        run.job = self._submit(body, generation)
        run.submitted = time.monotonic()
        run.count += 1
        run.delay = self.poll_interval

    def _finish(
        self, spec: RenderSpec, run: Submission, status: Mapping[str, Any], started: float, generation: int
    ) -> RenderResult:
        where = f"job {run.job.id} (panel {spec.panel_id or '?'})"
        job = FinishedJob(run.job.id, where, status, started, run.count, self._generation != generation)
        result = job_result(job, self._fetch, self.price_per_second)
        delay_ms, exec_ms = status.get("delayTime"), status.get("executionTime")
        if isinstance(delay_ms, (int, float)) and isinstance(exec_ms, (int, float)):
            self._learn((delay_ms + exec_ms) / 1000)
        return result

    def _learn(self, seconds: float) -> None:
        """Fold one job's queue + execution time into the expected job time (EMA, α = 0.3)."""
        with self._lock:
            old = self._expected_seconds
            self._expected_seconds = seconds if old is None else 0.7 * old + 0.3 * seconds

    def _fetch(self, image: OutputImage, where: str) -> bytes:
        if image.data is not None:
            return image.data
        assert image.url is not None
        # a plain client: the RunPod key must never go to S3
        return download_image(self._download, image.url, backend=BACKEND, where=where)

    # ------------------------------------------------------------------ cancel / close
    def _cancel_job(self, job_id: str) -> None:
        try:
            self.api.cancel(job_id)
        except BackendError as exc:
            log.warning("could not cancel RunPod job %s: %s", job_id, exc)

    def cancel(self) -> None:
        """Cancel every job in flight on RunPod (``POST /cancel/{id}``); their ``render``
        calls raise :class:`Cancelled`. Renders started afterwards run normally."""
        with self._lock:
            self._generation += 1
            jobs = list(self._in_flight)
            self._wake.notify_all()
        for job_id in jobs:
            self._cancel_job(job_id)

    @property
    def jobs_in_flight(self) -> list[str]:
        """Ids of the jobs submitted and not yet finished."""
        with self._lock:
            return list(self._in_flight)

    def close(self) -> None:
        """Close HTTP clients created here."""
        self.api.close()
        self._download.close()

    def __repr__(self) -> str:
        return f"RunPodBackend(endpoint={self.api.endpoint_id!r}, max_in_flight={self.max_in_flight})"
