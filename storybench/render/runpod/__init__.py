"""RunPod serverless backend (worker-comfyui): :mod:`.backend` (the backend), :mod:`.api` (the
endpoint's job API), :mod:`.payload` (worker-comfyui input/output), :mod:`.workflows` (specs → workflows)."""

from storybench.render.runpod.api import RunPodAPI
from storybench.render.runpod.backend import RunPodBackend, concurrency_from_health
from storybench.render.runpod.payload import build_input, error_text, job_error_text, parse_output
from storybench.render.runpod.workflows import WorkflowBuilder, template_workflow_builder

__all__ = [
    "RunPodAPI",
    "RunPodBackend",
    "WorkflowBuilder",
    "build_input",
    "concurrency_from_health",
    "error_text",
    "job_error_text",
    "parse_output",
    "template_workflow_builder",
]
