"""RunPod serverless backend (worker-comfyui): :mod:`.backend` (the backend), :mod:`.api` (the
endpoint's job API), :mod:`.payload` (worker-comfyui input/output), :mod:`.workflows` (specs → workflows)."""

from storybench.render.runpod.api import RunPodAPI
from storybench.render.runpod.backend import RunPodBackend, concurrency_from_health
from storybench.render.runpod.workflows import WorkflowBuilder, template_workflow_builder
from storybench.render.runpod.payload import build_input, error_text, parse_output

__all__ = ["RunPodBackend", "RunPodAPI", "WorkflowBuilder", "template_workflow_builder", "concurrency_from_health",
           "build_input", "parse_output", "error_text"]
