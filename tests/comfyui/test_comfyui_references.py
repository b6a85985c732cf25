"""Workflows with several reference inputs (issue 20, must-show 2, workflow side): ``workflow add``
finds reference inputs 1..N in order; ``WorkflowTemplate.fill`` fills them and leaves unused ones out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storybench.cli import main
from storybench.render.comfyui.references import leave_out, reference_order
from storybench.render.comfyui.slots_infer import infer_slots
from storybench.render.comfyui.workflow import WorkflowTemplate
from storybench.render.spec import RenderSpec

ROOT = Path(__file__).resolve().parents[2]
QWEN = ROOT / "workflows" / "qwen_image_edit_2509_refs.json"


def _spec() -> RenderSpec:
    return RenderSpec(prompt="two heroes", seed=5, width=768, height=512, panel_id="p1")


def _shuffled_qwen() -> dict:
    """The shipped template with its loaders renumbered against their image inputs
    (loader 5 feeds image3, loader 7 image1, loader 6 image2) and no titles."""
    wf = json.loads(QWEN.read_text())
    rename = {"78": "7", "79": "6", "80": "5"}
    out = {}
    for nid, node in wf.items():
        node.pop("_meta", None)
        for k, v in node["inputs"].items():
            if isinstance(v, list) and v[0] in rename:
                node["inputs"][k] = [rename[v[0]], v[1]]
        out[rename.get(nid, nid)] = node
    return out


def test_workflow_add_prints_three_references_in_image_input_order(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STORYBENCH_COMFYUI_WORKFLOWS", str(tmp_path / "wf"))
    path = tmp_path / "qwen_refs.json"
    path.write_text(json.dumps(_shuffled_qwen()))
    assert main(["workflow", "add", str(path)]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "reference image [reference_image]: node 7 LoadImage" in out
    assert "reference image 2 [reference_image_2]: node 6 LoadImage" in out
    assert "reference image 3 [reference_image_3]: node 5 LoadImage" in out
    template = WorkflowTemplate.load("qwen_refs")
    assert template.reference_slots == ["reference_image", "reference_image_2", "reference_image_3"]


def test_fill_two_of_three_removes_the_third_input_and_its_nodes() -> None:
    template = WorkflowTemplate.load("qwen_image_edit_2509_refs")
    wf = template.fill(_spec(), reference_images=["mara.png", "otto.png"])
    assert wf["78"]["inputs"]["image"] == "mara.png" and wf["79"]["inputs"]["image"] == "otto.png"
    assert "80" not in wf and "95" not in wf  # the loader and its scaler
    for encoder in ("110", "111"):
        assert "image3" not in wf[encoder]["inputs"] and wf[encoder]["inputs"]["image2"] == ["94", 0]
    full = template.fill(_spec(), reference_images=["a.png", "b.png", "c.png", "d.png"])  # a fourth is not used
    assert [full[n]["inputs"]["image"] for n in ("78", "79", "80")] == ["a.png", "b.png", "c.png"]
    untouched = template.fill(_spec())
    assert untouched["80"]["inputs"]["image"] == "storybench_reference_3.png"


def _kontext_two() -> dict:
    wf = json.loads((ROOT / "workflows" / "flux1_kontext.json").read_text())
    wf["200"] = {"class_type": "LoadImage", "inputs": {"image": "second.png"}}
    wf["201"] = {"class_type": "FluxKontextImageScale", "inputs": {"image": ["200", 0]}}
    wf["202"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["201", 0], "vae": ["12", 0]}}
    wf["203"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["177", 0], "latent": ["202", 0]}}
    wf["35"]["inputs"]["conditioning"] = ["203", 0]
    for node in wf.values():
        node.pop("_meta", None)
    return wf


def test_chained_reference_latents_are_ordered_and_bypassed() -> None:
    wf = _kontext_two()
    assert reference_order(wf, ["200", "142"]) == ["142", "200"]  # nearest the text first
    found = infer_slots(wf)
    assert found.slots["reference_image"]["node"] == "142" and found.slots["reference_image_2"]["node"] == "200"
    template = WorkflowTemplate(wf, found.slots, name="kontext2")
    one = template.fill(_spec(), reference_images=["mara.png"])
    assert one["142"]["inputs"]["image"] == "mara.png"
    assert not {"200", "201", "202", "203"} & set(one)
    assert one["35"]["inputs"]["conditioning"] == ["177", 0]  # the chain closes over the bypassed node


def test_a_reference_that_cannot_be_left_out_gets_the_first_sheet() -> None:
    wf = json.loads(QWEN.read_text())
    wf["96"] = {"class_type": "ImageStitch", "inputs": {"image1": ["93", 0], "image2": ["80", 0]}}
    assert leave_out(json.loads(json.dumps(wf)), "80") is False
    template = WorkflowTemplate(wf, json.loads(QWEN.with_suffix("").with_suffix(".slots.json").read_text()))
    filled = template.fill(_spec(), reference_images=["mara.png", "otto.png"])
    assert filled["80"]["inputs"]["image"] == "mara.png"


@pytest.mark.parametrize("names", [["mara.png"], ["mara.png", "otto.png", "vex.png"]])
def test_reference_image_keyword_still_fills_the_first(names) -> None:
    template = WorkflowTemplate.load("qwen_image_edit_2509_refs")
    wf = template.fill(_spec(), reference_image=names[0], reference_images=names[1:])
    assert wf["78"]["inputs"]["image"] == names[0]
