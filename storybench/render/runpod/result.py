"""A finished RunPod job's ``/status`` turned into a :class:`~storybench.render.spec.RenderResult`.

worker-comfyui's final statuses (see ``payload.parse_output``): ``COMPLETED`` with
``output.images`` (base64 or an S3 URL each) and maybe ``output.errors``; ``FAILED`` /
``TIMED_OUT`` with the error texts; ``CANCELLED``. ``delayTime`` and ``executionTime``
are milliseconds (RunPod's ``/status`` fields).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from storybench.exceptions import Cancelled, OutOfMemoryError, TransientBackendError
from storybench.render.runpod.payload import OutputImage, is_out_of_memory, job_error_text, parse_output
from storybench.render.spec import RenderResult

__all__ = ["FinishedJob", "as_png", "job_metrics", "job_result"]

BACKEND = "runpod"


@dataclass(frozen=True)
class FinishedJob:
    """A job that reached a final status.

    Attributes:
        job_id: RunPod's job id.
        where: ``"job ID (panel P)"``, for messages.
        status: the final ``/status`` answer.
        started: ``time.monotonic()`` when the panel's render began.
        submissions: how often the job was submitted (1 + resubmissions).
        cancelled_here: whether :meth:`RunPodBackend.cancel` cancelled it.
    """

    job_id: str
    where: str
    status: Mapping[str, Any]
    started: float
    submissions: int
    cancelled_here: bool


def _check_state(job: FinishedJob) -> None:
    """Raise for a job that did not complete."""
    state = job.status["status"]
    if state == "CANCELLED":
        if job.cancelled_here:
            raise Cancelled(f"RunPod {job.where} cancelled")
        raise TransientBackendError(BACKEND, f"{job.where} was cancelled on RunPod")
    if state in ("FAILED", "TIMED_OUT"):
        message = job_error_text(job.status)
        text = f"{job.where} {state}: {message}"
        if is_out_of_memory(message):
            raise OutOfMemoryError(BACKEND, text)
        raise TransientBackendError(BACKEND, text)


def job_metrics(
    job: FinishedJob, image: OutputImage, errors: list[str], price_per_second: float | None
) -> dict[str, Any]:
    """The catalog metrics of a completed job (see :meth:`RunPodBackend.render`)."""
    status = job.status
    metrics: dict[str, Any] = {
        "runpod_job_id": job.job_id,
        "submissions": job.submissions,
        "round_trip_seconds": round(time.monotonic() - job.started, 4),
        "output_filename": image.filename,
    }
    delay_ms, exec_ms = status.get("delayTime"), status.get("executionTime")
    if isinstance(delay_ms, (int, float)):
        metrics["delay_time_ms"] = delay_ms
        metrics["queue_seconds"] = delay_ms / 1000
    if isinstance(exec_ms, (int, float)):
        metrics["execution_time_ms"] = exec_ms
        metrics["execution_seconds"] = exec_ms / 1000
        if price_per_second is not None:
            metrics["cost"] = round(exec_ms / 1000 * price_per_second, 10)
    if status.get("workerId"):
        metrics["worker_id"] = status["workerId"]
    if errors:
        metrics["worker_errors"] = errors
    return metrics


def job_result(
    job: FinishedJob, fetch: Callable[[OutputImage, str], bytes], price_per_second: float | None
) -> RenderResult:
    """The panel image of a finished job, as PNG, with its metrics.

    Args:
        job: the job and its final status.
        fetch: ``(image, where) -> bytes``: the image's bytes (base64 decoded, or downloaded).
        price_per_second: the endpoint's price, USD per second, for the ``cost`` metric.

    Raises:
        Cancelled: the job was cancelled by this process.
        OutOfMemoryError: the worker ran out of GPU memory.
        TransientBackendError: the job failed, timed out, was cancelled on RunPod, or
            completed without a decodable image.
    """
    _check_state(job)
    try:
        images, errors = parse_output(job.status.get("output"))
    except ValueError as exc:
        raise TransientBackendError(BACKEND, f"{job.where}: unexpected output: {exc}") from exc
    if not images:
        raise TransientBackendError(
            BACKEND, f"{job.where} COMPLETED without images" + (f": {'; '.join(errors)}" if errors else "")
        )
    png, width, height = as_png(fetch(images[0], job.where), job.where)
    metrics = job_metrics(job, images[0], errors, price_per_second)
    return RenderResult(image=png, width=width, height=height, metrics=metrics)


def as_png(data: bytes, where: str) -> tuple[bytes, int, int]:
    """``(png_bytes, width, height)`` of an image in any format Pillow reads (pixels).

    Raises:
        TransientBackendError: the bytes are not a decodable image.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if img.format == "PNG":
                img.verify()
                return data, width, height
            out = io.BytesIO()
            img.save(out, format="PNG")
            return out.getvalue(), width, height
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise TransientBackendError(BACKEND, f"{where}: the worker's image cannot be decoded ({exc})") from exc
