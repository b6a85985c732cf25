"""Against a real ComfyUI server (STORYBENCH_COMFYUI_URL), with the weight-free empty_image workflow."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from storybench.exceptions import WorkflowError
from storybench.render.comfyui import ComfyUIBackend
from storybench.render.spec import RenderSpec

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("STORYBENCH_COMFYUI_URL"), reason="STORYBENCH_COMFYUI_URL is not set"),
]


def test_live_empty_image_renders_concurrently_and_reruns_from_cache():
    specs = [
        RenderSpec(prompt=f"live {i}", seed=7 + i, width=64 + 16 * i, height=80, panel_id=f"live{i}") for i in range(3)
    ]
    with ComfyUIBackend(workflow="empty_image") as backend:
        report = backend.preflight(specs)
        assert report["websocket"] is True
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(backend.render, specs))
        for s, r in zip(specs, results, strict=True):
            assert (r.width, r.height) == (s.width, s.height)
            assert r.metrics["execution_seconds"] is not None
            # by default the output node runs as a PreviewImage: the file is in temp/ (cleared by
            # ComfyUI at start), served by /view?type=temp, and nothing is left in output/
            assert r.metrics["filename"].startswith("ComfyUI_temp_")
            assert (
                backend.client.http.get(
                    f"{backend.url}/view", params={"filename": r.metrics["filename"], "type": "output"}
                ).status_code
                == 404
            )
        again = backend.render(specs[0])
        assert again.image == results[0].image


def test_live_preflight_names_a_missing_checkpoint():
    spec = RenderSpec(prompt="x", seed=1, width=64, height=64, params={"checkpoint": "storybench-missing.safetensors"})
    with (
        ComfyUIBackend(workflow="sd15_txt2img") as backend,
        pytest.raises(WorkflowError, match=r"storybench-missing.safetensors is not installed"),
    ):
        backend.preflight([spec])
