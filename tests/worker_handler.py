"""A stand-in for worker-comfyui's handler, written against the runpod SDK.

``handle_input(job_input)`` does what worker-comfyui 5.x does with a job's input,
minus ComfyUI itself: it validates ``{"workflow", "images"}`` with worker-comfyui's
messages, "uploads" the images (decodes their base64), checks that every
``LoadImage`` node names an uploaded image, and "runs" the workflow by drawing a
real PNG of the size its ``EmptyImage`` / ``EmptyLatentImage`` /
``EmptySD3LatentImage`` node asks for (colour from ``EmptyImage.color``; a
reference image, when one is loaded, is pasted in the top-left corner). Output:
``{"images": [{"filename", "type": "base64", "data"}]}``; errors: ``{"error", "details"?}``.

Run as a RunPod worker (the SDK's local API mode)::

    python tests/worker_handler.py --rp_serve_api --rp_api_port 8010 --rp_api_host 127.0.0.1
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any

from PIL import Image

LATENT_NODES = ("EmptyImage", "EmptyLatentImage", "EmptySD3LatentImage")


def validate_input(job_input: Any) -> tuple[dict | None, str | None]:
    """worker-comfyui's input validation (same messages)."""
    if job_input is None:
        return None, "Please provide input"
    if isinstance(job_input, str):
        try:
            job_input = json.loads(job_input)
        except json.JSONDecodeError:
            return None, "Invalid JSON format in input"
    workflow = job_input.get("workflow")
    if workflow is None:
        return None, "Missing 'workflow' parameter"
    images = job_input.get("images")
    if images is not None and (
        not isinstance(images, list) or not all(isinstance(i, dict) and "name" in i and "image" in i for i in images)
    ):
        return None, "'images' must be a list of objects with 'name' and 'image' keys"
    return {"workflow": workflow, "images": images}, None


def _decode(text: str) -> bytes:
    if "," in text and text.startswith("data:"):
        text = text.split(",", 1)[1]
    return base64.b64decode(text, validate=True)


def render_workflow(workflow: dict, uploaded: dict[str, bytes]) -> tuple[bytes, str]:
    """Draw the PNG a workflow asks for. Returns ``(png, filename)``.

    Raises:
        ValueError: with ComfyUI-like validation text.
    """
    if not isinstance(workflow, dict) or not workflow:
        raise ValueError("Workflow validation failed: prompt is empty or not an object")
    width = height = None
    color = 0x808080
    reference = None
    prefix = "ComfyUI"
    for node_id, node in workflow.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
            raise ValueError(f"Workflow validation failed: node {node_id} has no class_type/inputs (not API format)")
        kind, inputs = node["class_type"], node["inputs"]
        if kind in LATENT_NODES:
            width, height = int(inputs["width"]), int(inputs["height"])
            if kind == "EmptyImage":
                color = int(inputs.get("color", 0))
        elif kind == "LoadImage":
            name = inputs.get("image")
            if name not in uploaded:
                raise ValueError(f"Workflow validation failed:\n• Node {node_id} (image): Invalid image file: {name}")
            reference = uploaded[name]
        elif kind == "SaveImage":
            prefix = str(inputs.get("filename_prefix", prefix))
    if width is None:
        raise ValueError("Workflow validation failed: no EmptyImage/EmptyLatentImage node gives a size")
    img = Image.new("RGB", (width, height), ((color >> 16) & 255, (color >> 8) & 255, color & 255))
    if reference is not None:
        with Image.open(io.BytesIO(reference)) as ref:
            ref = ref.convert("RGB")
            ref.thumbnail((max(1, width // 4), max(1, height // 4)))
            img.paste(ref, (0, 0))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue(), f"{prefix.rsplit('/', 1)[-1]}_00001_.png"


def handle_input(job_input: Any) -> dict[str, Any]:
    """A job's output, as worker-comfyui would return it."""
    validated, error = validate_input(job_input)
    if error:
        return {"error": error}
    uploaded: dict[str, bytes] = {}
    details = []
    for item in validated["images"] or []:
        try:
            uploaded[item["name"]] = _decode(item["image"])
        except (binascii.Error, ValueError) as exc:
            details.append(f"Error decoding base64 for {item['name']}: {exc}")
    if details:
        return {"error": "Failed to upload one or more input images", "details": details}
    try:
        png, filename = render_workflow(validated["workflow"], uploaded)
    except (ValueError, KeyError, TypeError) as exc:
        return {"error": str(exc)}
    return {"images": [{"filename": filename, "type": "base64", "data": base64.b64encode(png).decode("ascii")}]}


def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The runpod SDK handler: ``job["input"]`` in, worker-comfyui output out."""
    return handle_input(job.get("input"))


if __name__ == "__main__":
    import runpod

    runpod.serverless.start({"handler": handler})
