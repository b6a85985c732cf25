"""Slot inference by following the graph: every shipped template and the test workflows
(API-format, in the shapes ComfyUI's "Export (API)" writes) give the same slots as their
hand-written slots files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.slots_infer import infer_slots
from storybench.render.comfyui.workflow import WorkflowTemplate, shipped_workflows_dir

DATA = Path(__file__).parents[1] / "data" / "comfy"
SHIPPED = [
    "sd15_txt2img",
    "sdxl_txt2img",
    "flux1_dev",
    "flux1_schnell",
    "flux1_kontext",
    "character_sheet",
    "empty_image",
]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _resolved(workflow: dict, slots: dict) -> dict[str, tuple[str, str | None]]:
    """slot → (node id, input) after WorkflowTemplate resolves titles and ids."""
    return {k: (v.node_id, v.input) for k, v in WorkflowTemplate(workflow, slots).slots.items()}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_infer_their_hand_written_slots(name: str) -> None:
    workflow = _load(shipped_workflows_dir() / f"{name}.json")
    expected = _resolved(workflow, _load(shipped_workflows_dir() / f"{name}.slots.json"))
    found = infer_slots(workflow)
    assert found.ambiguities == []
    assert _resolved(workflow, found.slots) == expected


@pytest.mark.parametrize(
    ("name", "choices"),
    [("flux1_dev_custom", {}), ("img2img", {}), ("titled", {}), ("sdxl_refiner", {"seed": "10"})],
)
def test_test_workflows_infer_their_hand_written_slots(name: str, choices: dict[str, str]) -> None:
    workflow = _load(DATA / f"{name}.api.json")
    expected = _resolved(workflow, _load(DATA / f"{name}.slots.json"))
    found = infer_slots(workflow, choices)
    assert found.ambiguities == []
    assert _resolved(workflow, found.slots) == expected


def test_sampler_custom_advanced_settings_live_on_the_nodes_that_feed_it() -> None:
    found = infer_slots(_load(DATA / "flux1_dev_custom.api.json"))
    assert found.slots["seed"] == {"node": "25", "input": "noise_seed"}  # RandomNoise
    assert found.slots["sampler"] == {"node": "16", "input": "sampler_name"}  # KSamplerSelect
    assert found.slots["steps"] == {"node": "17", "input": "steps"}  # BasicScheduler
    assert "cfg" not in found.slots and "negative" not in found.slots  # BasicGuider: no cfg, no negative
    # t5 found by file name although the DualCLIPLoader holds it first
    assert found.slots["t5"]["input"] == "clip_name1" and found.slots["clip_l"]["input"] == "clip_name2"


def test_two_samplers_are_reported_with_candidates_and_settled_by_a_choice() -> None:
    workflow = _load(DATA / "sdxl_refiner.api.json")
    found = infer_slots(workflow)
    assert not found.ok
    [amb] = found.ambiguities
    assert [(c.node_id, c.class_type) for c in amb.candidates] == [
        ("10", "KSamplerAdvanced"),
        ("11", "KSamplerAdvanced"),
    ]
    assert "REFINER" in str(amb) and "--slot seed=10" in str(amb)
    assert "positive" not in found.slots and "checkpoint" not in found.slots
    # choosing the refiner's prompt picks the refiner sampler and its checkpoint
    refiner = infer_slots(workflow, {"positive": "15"})
    assert refiner.ok
    assert refiner.slots["seed"] == {"node": "11", "input": "noise_seed"}
    assert refiner.slots["checkpoint"] == {"node": "12", "input": "ckpt_name"}
    assert refiner.how["positive"] == "choice"


def test_img2img_reference_and_denoise() -> None:
    found = infer_slots(_load(DATA / "img2img.api.json"))
    assert found.slots["reference_image"] == {"node": "10", "input": "image"}
    assert found.slots["denoise"] == {"node": "3", "input": "denoise"}
    assert found.slots["width"]["node"] == "11"  # the image scaler, not a latent source


def test_titles_override_the_graph_and_settle_two_outputs() -> None:
    workflow = _load(DATA / "titled.api.json")
    found = infer_slots(workflow)
    assert found.how["positive"] == "title" and found.slots["positive"]["node"] == "21"
    assert found.how["output"] == "title" and found.slots["output"] == {"node": "9"}
    untitled = json.loads(json.dumps(workflow))
    untitled["9"]["_meta"]["title"] = "Save Image"
    again = infer_slots(untitled)
    [amb] = again.ambiguities
    assert amb.slot == "output" and {c.node_id for c in amb.candidates} == {"9", "41"}
    assert infer_slots(untitled, {"output": "41"}).slots["filename_prefix"] == {
        "node": "41",
        "input": "filename_prefix",
    }


def test_a_choice_must_name_a_node_and_a_known_slot() -> None:
    workflow = _load(DATA / "sdxl_refiner.api.json")
    with pytest.raises(WorkflowError, match="no node with that id or title"):
        infer_slots(workflow, {"seed": "999"})
    with pytest.raises(WorkflowError, match="unknown slot"):
        infer_slots(workflow, {"prompt": "6"})
    with pytest.raises(WorkflowError, match="has no input for positive"):
        infer_slots(workflow, {"positive": "5"})  # EmptyLatentImage


def test_weight_free_workflow_without_sampler() -> None:
    found = infer_slots(_load(shipped_workflows_dir() / "empty_image.json"))
    assert set(found.slots) == {"width", "height", "color", "output", "filename_prefix"}
    assert found.models == []


def test_lora_feeding_the_model_is_a_slot_and_listed_for_preflight() -> None:
    workflow = _load(shipped_workflows_dir() / "sd15_txt2img.json")
    workflow["20"] = {
        "inputs": {"lora_name": "ink.safetensors", "strength_model": 0.8, "model": ["4", 0]},
        "class_type": "LoraLoaderModelOnly",
        "_meta": {"title": "LoRA"},
    }
    workflow["3"]["inputs"]["model"] = ["20", 0]
    found = infer_slots(workflow)
    assert found.slots["lora"] == {"node": "20", "input": "lora_name"}
    assert ("20", "lora_name", "ink.safetensors") in found.models
    filled = WorkflowTemplate(workflow, found.slots).settings({"lora": "pen.safetensors"})
    assert filled == {"lora": "pen.safetensors"}


def test_sampler_custom_with_cfg_guider_and_single_clip_loader() -> None:
    workflow = {
        "1": {
            "class_type": "UNETLoader",
            "inputs": {"unet_name": "sd3.5_medium.safetensors", "weight_dtype": "default"},
        },
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": "t5xxl_fp16.safetensors", "type": "sd3"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["2", 0]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["2", 0]}},
        "5": {
            "class_type": "CFGGuider",
            "inputs": {"model": ["1", 0], "positive": ["3", 0], "negative": ["4", 0], "cfg": 4.5},
        },
        "6": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "7": {
            "class_type": "BasicScheduler",
            "inputs": {"model": ["1", 0], "scheduler": "sgm_uniform", "steps": 28, "denoise": 1.0},
        },
        "8": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "9": {"class_type": "RandomNoise", "inputs": {"noise_seed": 1}},
        "10": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {
                "noise": ["9", 0],
                "guider": ["5", 0],
                "sampler": ["6", 0],
                "sigmas": ["7", 0],
                "latent_image": ["8", 0],
            },
        },
        "11": {"class_type": "VAEDecode", "inputs": {"samples": ["10", 0], "vae": ["12", 0]}},
        "12": {"class_type": "VAELoader", "inputs": {"vae_name": "sd35_vae.safetensors"}},
        "13": {"class_type": "PreviewImage", "inputs": {"images": ["11", 0]}},
    }
    found = infer_slots(workflow)
    assert found.ok
    assert {k: (v["node"], v.get("input")) for k, v in found.slots.items()} == {
        "positive": ("3", "text"),
        "negative": ("4", "text"),
        "seed": ("9", "noise_seed"),
        "cfg": ("5", "cfg"),
        "sampler": ("6", "sampler_name"),
        "steps": ("7", "steps"),
        "scheduler": ("7", "scheduler"),
        "width": ("8", "width"),
        "height": ("8", "height"),
        "unet": ("1", "unet_name"),
        "t5": ("2", "clip_name"),
        "vae": ("12", "vae_name"),
        "output": ("13", None),
    }
