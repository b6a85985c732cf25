"""ComfyUI server errors → storybench exceptions, and the package's public names."""

from __future__ import annotations

import httpx

import storybench.render.comfyui as comfyui
from storybench.exceptions import (
    BackendUnavailable,
    OutOfMemoryError,
    PermanentBackendError,
    TransientBackendError,
    WorkflowError,
)
from storybench.render.comfyui.errors import execution_failed, http_error, is_out_of_memory, prompt_rejected

URL = "http://127.0.0.1:8188/prompt"


def test_validation_failure_names_node_class_input_and_value():
    body = {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "Value not in list: ckpt_name: 'x.safetensors' not in ['a.safetensors']",
            "extra_info": {},
        },
        "node_errors": {
            "4": {
                "errors": [
                    {
                        "type": "value_not_in_list",
                        "message": "Value not in list",
                        "details": "ckpt_name: 'x.safetensors' not in ['a.safetensors']",
                        "extra_info": {"input_name": "ckpt_name", "received_value": "x.safetensors"},
                    }
                ],
                "dependent_outputs": ["9"],
                "class_type": "CheckpointLoaderSimple",
            },
            "3": {
                "errors": [
                    {
                        "type": "value_bigger_than_max",
                        "message": "Value 20000 bigger than max of 10000",
                        "details": "steps",
                        "extra_info": {"input_name": "steps"},
                    }
                ],
                "dependent_outputs": ["9"],
                "class_type": "KSampler",
            },
        },
    }
    exc = prompt_rejected(400, body, URL)
    assert isinstance(exc, WorkflowError) and not exc.transient
    text = str(exc)
    assert "node 4 (CheckpointLoaderSimple) input ckpt_name: Value not in list: ckpt_name: 'x.safetensors'" in text
    assert "node 3 (KSampler) input steps: Value 20000 bigger than max of 10000" in text


def test_prompt_level_errors_and_non_json():
    unknown = prompt_rejected(
        400,
        {
            "error": {
                "type": "invalid_prompt",
                "message": "Cannot execute because node Foo does not exist.",
                "details": "Node ID '#7'",
                "extra_info": {},
            },
            "node_errors": {},
        },
        URL,
    )
    assert isinstance(unknown, WorkflowError) and "node Foo does not exist" in str(unknown) and "#7" in str(unknown)
    assert isinstance(prompt_rejected(500, "500 Internal Server Error", URL), TransientBackendError)
    assert type(prompt_rejected(413, "too large", URL)) is PermanentBackendError


def test_out_of_memory_detection():
    for exc_type, message in [
        ("torch.OutOfMemoryError", "x"),
        ("RuntimeError", "CUDA out of memory. Tried to allocate"),
        ("Exception", "Allocation on device 0 would exceed allowed memory"),
    ]:
        data = {"node_id": "3", "node_type": "KSampler", "exception_type": exc_type, "exception_message": message}
        assert is_out_of_memory(data)
        assert isinstance(execution_failed(data, URL), OutOfMemoryError)
    other = execution_failed(
        {"node_id": "8", "node_type": "VAEDecode", "exception_type": "ValueError", "exception_message": "bad tensor"},
        URL,
    )
    assert type(other) is PermanentBackendError
    assert "node 8 (VAEDecode) failed with ValueError: bad tensor" in str(other)


def test_http_errors():
    request = httpx.Request("GET", URL)
    assert isinstance(http_error(httpx.ConnectError("refused", request=request), URL), BackendUnavailable)
    assert isinstance(http_error(httpx.ReadTimeout("slow", request=request), URL), BackendUnavailable)
    bad = httpx.HTTPStatusError("x", request=request, response=httpx.Response(503, text="busy", request=request))
    assert isinstance(http_error(bad, URL), TransientBackendError)
    forbidden = httpx.HTTPStatusError("x", request=request, response=httpx.Response(403, text="no", request=request))
    assert type(http_error(forbidden, URL)) is PermanentBackendError and "Origin" in str(http_error(forbidden, URL))


def test_public_names():
    assert set(comfyui.__all__) == {
        "ComfyUIBackend",
        "ComfyUIClient",
        "PromptWatch",
        "WorkflowTemplate",
        "VramGuard",
        "free_vram",
        "check_prompt",
        "template_names",
        "workflow_dirs",
        "user_workflows_dir",
        "add_workflow",
        "infer_slots",
        "SlotInference",
        "ui_to_api",
        "list_workflows",
        "read_workflow_file",
        "DEFAULT_URL",
        "DEFAULT_WORKFLOW",
    }
    for name in comfyui.__all__:
        assert getattr(comfyui, name) is not None
    assert comfyui.ComfyUIBackend.name == "comfyui"
    assert comfyui.DEFAULT_WORKFLOW == "sd15_txt2img"
    assert comfyui.free_vram({"devices": [{"type": "cuda", "vram_free": 5}, {"type": "cuda", "vram_free": 3}]}) == 3
    assert comfyui.free_vram({"devices": [{"type": "cpu", "vram_free": 0}]}) is None
