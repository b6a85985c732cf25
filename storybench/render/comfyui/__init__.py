"""ComfyUI image backend: workflow templates with named slots, one websocket per
backend, pipelined renders, GPU memory management.

Public names::

    ComfyUIBackend      the ImageBackend registered as "comfyui"
    (its options, validated: storybench.render.comfyui.options.ComfyUIOptions)
    ComfyUIClient       HTTP + websocket client for one server
    WorkflowTemplate    API-format workflow + named slots; fill(spec) -> workflow
    VramGuard           /system_stats, /free and Ollama unload
    add_workflow        a workflow (API/UI format, ComfyUI PNG) as a user template, slots found
    infer_slots         a workflow's slots found by following its graph
    ui_to_api           UI-format workflow -> API format (with the server's /object_info)
    list_workflows      templates with their source (shipped or user)
"""

from storybench.render.comfyui.backend import DEFAULT_URL, DEFAULT_WORKFLOW, ComfyUIBackend
from storybench.render.comfyui.client import ComfyUIClient, PromptWatch
from storybench.render.comfyui.library import add_workflow, list_workflows, read_workflow_file
from storybench.render.comfyui.memory import VramGuard, free_vram
from storybench.render.comfyui.slots_infer import SlotInference, infer_slots
from storybench.render.comfyui.ui_convert import ui_to_api
from storybench.render.comfyui.workflow import (
    WorkflowTemplate,
    check_prompt,
    template_names,
    user_workflows_dir,
    workflow_dirs,
)

__all__ = [
    "DEFAULT_URL",
    "DEFAULT_WORKFLOW",
    "ComfyUIBackend",
    "ComfyUIClient",
    "PromptWatch",
    "SlotInference",
    "VramGuard",
    "WorkflowTemplate",
    "add_workflow",
    "check_prompt",
    "free_vram",
    "infer_slots",
    "list_workflows",
    "read_workflow_file",
    "template_names",
    "ui_to_api",
    "user_workflows_dir",
    "workflow_dirs",
]
