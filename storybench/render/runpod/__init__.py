"""RunPod serverless backend (worker-comfyui): see :mod:`.backend`, :mod:`.api`, :mod:`.payload`."""

from storybench.render.runpod.api import RunPodAPI
from storybench.render.runpod.backend import RunPodBackend, concurrency_from_health, template_workflow_builder
from storybench.render.runpod.payload import build_input, error_text, parse_output

__all__ = ["RunPodBackend", "RunPodAPI", "template_workflow_builder", "concurrency_from_health",
           "build_input", "parse_output", "error_text"]
