"""The worker-comfyui job protocol: building ``input`` and reading ``output``.

Input (worker-comfyui 5.x)::

    {"workflow": {<API-format workflow>},
     "images": [{"name": "sb_ref_<hash>.png", "image": "<base64>"}]}   # optional

``images`` are written into ComfyUI's input folder under ``name`` before the
workflow runs, so a ``LoadImage`` node can refer to them. With a
``reference_url_base`` the ``image`` field holds ``<base>/<name>`` instead of the
data (for workers that download http(s) inputs; stock worker-comfyui wants base64).

Output::

    {"images": [{"filename": "...png", "type": "base64" | "s3_url", "data": "..."}],
     "errors": ["..."]}                                   # errors: non-fatal, optional

A fatal worker error: worker-comfyui returns ``{"error": "Job processing failed",
"details": ["Workflow execution error: Node Type: ..., Node ID: ..., Message: ..."]}``;
the runpod SDK (``rp_job.run_job``) pops ``error`` to the job's top level and leaves the
rest as ``output``, so ``/status`` shows ``{"status": "FAILED", "error": "Job processing
failed", "output": {"details": [...]}}``. A handler exception becomes ``error`` = a JSON
string ``{"error_type", "error_message", "error_traceback", ...}``. :func:`job_error_text`
reads all of these (and ``output.error``). Older workers (4.x) answer
``{"status": "success", "message": "<base64 or URL>"}``; that is read as well.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "OutputImage",
    "ReferenceImage",
    "build_input",
    "error_text",
    "is_cold_worker",
    "is_out_of_memory",
    "job_error_text",
    "load_reference_images",
    "parse_output",
]

_OOM_MARKERS = ("out of memory", "outofmemory", "allocation on device", "cuda error: out of memory")
_COLD_MARKERS = ("not reachable after", "comfyui unreachable", "connection refused")


@dataclass(frozen=True)
class ReferenceImage:
    """A reference image as sent to the worker.

    Attributes:
        name: file name in ComfyUI's input folder (content-addressed: ``sb_ref_<sha16><suffix>``).
        data: the file's bytes.
        source: the local path it was read from.
    """

    name: str
    data: bytes
    source: str


def load_reference_images(paths: Sequence[str]) -> list[ReferenceImage]:
    """Read reference image files.

    Raises:
        FileNotFoundError: a path does not exist (the message names it).
    """
    refs = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise FileNotFoundError(f"reference image {raw} does not exist")
        data = path.read_bytes()
        suffix = path.suffix.lower() or ".png"
        refs.append(ReferenceImage(f"sb_ref_{hashlib.sha256(data).hexdigest()[:16]}{suffix}", data, str(path)))
    return refs


def build_input(
    workflow: dict[str, Any], references: Sequence[ReferenceImage] = (), *, reference_url_base: str | None = None
) -> dict[str, Any]:
    """The worker-comfyui ``input`` object.

    Args:
        workflow: a filled API-format workflow.
        references: images to place in ComfyUI's input folder (deduplicated by name).
        reference_url_base: when set, each image is sent as ``<base>/<name>`` instead of base64.
    """
    payload: dict[str, Any] = {"workflow": workflow}
    images = []
    seen = set()
    for ref in references:
        if ref.name in seen:
            continue
        seen.add(ref.name)
        if reference_url_base:
            images.append({"name": ref.name, "image": f"{reference_url_base.rstrip('/')}/{ref.name}"})
        else:
            images.append({"name": ref.name, "image": base64.b64encode(ref.data).decode("ascii")})
    if images:
        payload["images"] = images
    return payload


@dataclass(frozen=True)
class OutputImage:
    """One image of a worker's output: either inline ``data`` or a ``url`` to download."""

    filename: str
    data: bytes | None = None
    url: str | None = None


def _b64(text: str, where: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{where}: not valid base64 ({exc})") from exc


def _output_object(output: Any) -> dict[str, Any]:
    """The job's ``output`` as an object (a JSON string is decoded)."""
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except ValueError:
            raise ValueError(f"output: expected an object, got text {output[:200]!r}") from None
    if not isinstance(output, dict):
        raise ValueError(f"output: expected an object, got {type(output).__name__}")
    return output


def _listed_image(item: Any, i: int) -> OutputImage:
    """One entry of worker-comfyui 5.x's ``output.images`` (``{"filename", "type", "data"}``)."""
    where = f"output.images[{i}]"
    if not isinstance(item, dict) or "data" not in item:
        raise ValueError(f"{where}: expected {{'filename', 'type', 'data'}}, got {str(item)[:200]}")
    kind = item.get("type", "base64")
    name = str(item.get("filename", f"image_{i}.png"))
    if kind == "base64":
        return OutputImage(name, data=_b64(str(item["data"]), where + ".data"))
    if kind in ("s3_url", "url"):
        return OutputImage(name, url=str(item["data"]))
    raise ValueError(f"{where}.type: unknown type {kind!r} (expected 'base64' or 's3_url')")


def _message_image(message: str) -> OutputImage:
    """worker-comfyui 4.x's single ``output.message``: an URL or base64 data."""
    if message.startswith(("http://", "https://")):
        return OutputImage("image.png", url=message)
    return OutputImage("image.png", data=_b64(message, "output.message"))


def _output_errors(output: dict[str, Any]) -> list[str]:
    """The job's error texts: ``output.error`` first, then ``output.errors``."""
    errors = [str(e) for e in output.get("errors") or []]
    return [error_text(output), *errors] if "error" in output else errors


def parse_output(output: Any) -> tuple[list[OutputImage], list[str]]:
    """Images and non-fatal errors of a COMPLETED job's ``output``.

    Returns:
        ``(images, errors)``; ``images`` may be empty (the caller decides).

    Raises:
        ValueError: the output has an unknown shape or bad base64; the message says where.
    """
    output = _output_object(output)
    errors = _output_errors(output)
    if "images" in output:
        if not isinstance(output["images"], list):
            raise ValueError("output.images: expected a list")
        return [_listed_image(item, i) for i, item in enumerate(output["images"])], errors
    if "message" in output and output.get("status", "success") == "success":  # worker-comfyui 4.x
        return [_message_image(str(output["message"]))], errors
    if not errors:
        raise ValueError(f"output: no 'images' (keys: {', '.join(map(str, output)) or 'none'})")
    return [], errors


def _error_object_text(error: dict[str, Any]) -> str | None:
    """The text of an error object: the SDK's ``{"error_type", "error_message"}`` or ``{"error", "details"}``."""
    if "error_message" in error:
        kind = error.get("error_type", "")
        return f"{kind}: {error['error_message']}".strip(": ") if kind else str(error["error_message"])
    if "error" not in error:
        return None
    text = error_text(error["error"])
    details = error.get("details")
    if details:
        items = details if isinstance(details, list) else [details]
        text += " (details: " + "; ".join(str(d) for d in items[:10]) + ")"
    return text


def error_text(error: Any) -> str:
    """A readable one-paragraph message from a job's ``error`` (string, JSON string or object).

    ``{"error": "...", "details": [...]}`` becomes ``"... (details: a; b)"``; the SDK's
    ``{"error_type", "error_message", "error_traceback"}`` becomes its type and message.
    """
    if isinstance(error, str):
        text = error.strip()
        if text.startswith("{"):
            try:
                return error_text(json.loads(text))
            except ValueError:
                pass
        return text
    found = _error_object_text(error) if isinstance(error, dict) else None
    if found is not None:
        return found
    return json.dumps(error, ensure_ascii=False)[:2000]


def job_error_text(status: Any) -> str:
    """The whole error text of a FAILED or TIMED_OUT job's ``/status`` answer.

    Joins the top-level ``error`` (a string, a JSON string, or the SDK's exception object),
    ``output.error`` and every entry of ``output.details`` / ``output.errors``, in that order
    and without repeats, e.g. ``"Job processing failed: Workflow execution error: Node Type:
    KSampler, Node ID: 31, Message: Allocation on device 0 would exceed allowed memory"``.
    """
    if not isinstance(status, dict):
        return error_text(status)
    parts: list[str] = []

    def add(value: Any) -> None:
        if value is None or value == "" or value == []:
            return
        for item in value if isinstance(value, list) else [value]:
            text = error_text(item).strip()
            if text and text not in parts:
                parts.append(text)

    add(status.get("error"))
    output = status.get("output")
    if isinstance(output, str) and output.strip().startswith("{"):
        with contextlib.suppress(ValueError):
            output = json.loads(output)
    if isinstance(output, dict):
        add(output.get("error"))
        add(output.get("details"))
        add(output.get("errors"))
    elif output:
        add(output)
    if not parts:
        return "no error message"
    head, rest = parts[0], parts[1:]
    return head + (": " + "; ".join(rest) if rest else "")


def is_out_of_memory(text: str) -> bool:
    """True when a worker's error text says the GPU ran out of memory."""
    low = text.lower()
    return any(marker in low for marker in _OOM_MARKERS)


def is_cold_worker(text: str) -> bool:
    """True when a worker failed because its own ComfyUI was not up yet (a cold start:
    worker-comfyui's ``ComfyUI server (...) not reachable after multiple retries``)."""
    low = text.lower()
    return "comfyui" in low and any(marker in low for marker in _COLD_MARKERS)
