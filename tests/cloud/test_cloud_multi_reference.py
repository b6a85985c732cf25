"""RunPod (worker-comfyui ``images``) and Runware (``referenceImages``) receive the sheets of
every character of a panel, speakers first, like the ComfyUI backend (issue 20)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from storybench.render.runpod import RunPodBackend

try:
    from runpod_server import RunPodSim
    from specs import make_spec
except ImportError:  # tests/ imported as a package
    from tests.runpod_server import RunPodSim
    from tests.specs import make_spec

ROOT = Path(__file__).resolve().parents[2]
KEY = "rp-secret-KEY-0123456789abcdef"


def _sheets(tmp_path: Path) -> list[Path]:
    paths = []
    for name, colour in (("bo", (10, 200, 10)), ("ann", (200, 10, 10))):
        path = tmp_path / f"{name}.png"
        Image.new("RGB", (32, 32), colour).save(path)
        paths.append(path)
    return paths


def test_runpod_sends_every_sheet_and_fills_the_references_in_order(tmp_path, monkeypatch) -> None:
    sheets = _sheets(tmp_path)
    with RunPodSim(workers=1, api_key=KEY) as sim:
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("RUNPOD_ENDPOINT_ID", sim.endpoint_id)
        monkeypatch.setenv("STORYBENCH_RUNPOD_BASE_URL", sim.root)
        with RunPodBackend(workflow="qwen_image_edit_2509_refs", text_workflow="flux1_dev") as be:
            assert be.supports_reference_images and be.max_reference_images == 3
            spec = make_spec(1, seed_base=7, reference_images=tuple(str(p) for p in sheets))
            body = json.loads(be.build_request(spec))["input"]
    images = body["images"]
    assert [base64.b64decode(i["image"]) for i in images] == [p.read_bytes() for p in sheets]
    wf = body["workflow"]
    assert [wf["78"]["inputs"]["image"], wf["79"]["inputs"]["image"]] == [i["name"] for i in images]
    assert "80" not in wf and "image3" not in wf["111"]["inputs"]  # the unused third reference is left out


def test_runware_sends_reference_images_when_asked(tmp_path, monkeypatch) -> None:
    pytest.importorskip("runware")
    from runware_server import RunwareSim

    from storybench.render.runware import RunwareBackend

    sheets = _sheets(tmp_path)
    key = "rw-secret-KEY-fedcba9876543210"
    with RunwareSim(api_key=key) as sim:
        monkeypatch.setenv("RUNWARE_API_KEY", key)
        monkeypatch.setenv("STORYBENCH_RUNWARE_URL", sim.url)
        with RunwareBackend(model="runware:101@1") as plain:
            assert not plain.supports_reference_images and plain.max_reference_images == 1
        with RunwareBackend(model="runware:101@1", reference_images=2) as be:
            assert be.supports_reference_images and be.max_reference_images == 2
            be.render(make_spec(1, seed_base=7, width=512, height=384, reference_images=tuple(map(str, sheets))))
    (task,) = [t for t in sim.received if t["taskType"] == "imageInference"]
    sent = task["referenceImages"]
    assert len(sent) == 2
    decoded = [base64.b64decode(s.split(",", 1)[-1]) for s in sent]
    assert decoded == [p.read_bytes() for p in sheets]
