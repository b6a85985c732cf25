"""ComfyUI image backend: workflow templates with named slots, one websocket per
backend, pipelined renders, GPU memory management.

Public names::

    ComfyUIBackend      the ImageBackend registered as "comfyui"
    ComfyUIClient       HTTP + websocket client for one server
    WorkflowTemplate    API-format workflow + named slots; fill(spec) -> workflow
    VramGuard           /system_stats, /free and Ollama unload
"""

from storybench.render.comfyui.backend import DEFAULT_URL, DEFAULT_WORKFLOW, ComfyUIBackend
from storybench.render.comfyui.client import ComfyUIClient, PromptWatch
from storybench.render.comfyui.memory import VramGuard, free_vram
from storybench.render.comfyui.workflow import WorkflowTemplate, check_prompt, template_names, workflow_dirs

__all__ = [
    "DEFAULT_URL",
    "DEFAULT_WORKFLOW",
    "ComfyUIBackend",
    "ComfyUIClient",
    "PromptWatch",
    "VramGuard",
    "WorkflowTemplate",
    "check_prompt",
    "free_vram",
    "template_names",
    "workflow_dirs",
]
