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


def _node(cls: str, **inputs) -> dict:
    return {"class_type": cls, "inputs": inputs, "_meta": {"title": cls}}


def _controlnet_inpaint() -> dict:
    """SD1.5 with a ControlNet fed by a Canny map and an inpainting source (image + mask)."""
    return {
        "1": _node("CheckpointLoaderSimple", ckpt_name="v1-5.safetensors"),
        "2": _node("CLIPTextEncode", text="a", clip=["1", 1]),
        "3": _node("CLIPTextEncode", text="b", clip=["1", 1]),
        "4": _node("LoadImage", image="pose.png"),
        "5": _node("Canny", image=["4", 0], low_threshold=0.4, high_threshold=0.8),
        "6": _node("ControlNetLoader", control_net_name="canny.safetensors"),
        "7": _node(
            "ControlNetApplyAdvanced",
            positive=["2", 0],
            negative=["3", 0],
            control_net=["6", 0],
            image=["5", 0],
            strength=1.0,
        ),
        "8": _node("LoadImage", image="room.png"),
        "9": _node("VAEEncodeForInpaint", pixels=["8", 0], mask=["8", 1], vae=["1", 2], grow_mask_by=6),
        "10": _node(
            "KSampler",
            model=["1", 0],
            positive=["7", 0],
            negative=["7", 1],
            latent_image=["9", 0],
            seed=1,
            steps=20,
            cfg=7.0,
            sampler_name="euler",
            scheduler="normal",
            denoise=1.0,
        ),
        "11": _node("VAEDecode", samples=["10", 0], vae=["1", 2]),
        "12": _node("SaveImage", images=["11", 0], filename_prefix="x"),
        "13": _node("CLIPVisionLoader", clip_name="clip_vision_h.safetensors"),
    }


def test_image_loaders_are_classified_by_what_they_feed() -> None:
    found = infer_slots(_controlnet_inpaint())
    assert {(i.node_id, i.role) for i in found.images} == {("4", "control image"), ("8", "mask")}
    assert "reference_image" not in found.slots
    assert found.slots["positive"] == {"node": "2", "input": "text"}
    assert found.slots["negative"] == {"node": "3", "input": "text"}  # output 1 of the ControlNet node
    # a LoadImage reaching the sampler through VAEEncode only is a reference (img2img)
    wf = _controlnet_inpaint()
    wf["9"] = _node("VAEEncode", pixels=["8", 0], vae=["1", 2])
    assert infer_slots(wf).slots["reference_image"] == {"node": "8", "input": "image"}


def test_guider_cond1_and_any_text_encoder_carry_the_prompt() -> None:
    wf = {
        "1": _node("UNETLoader", unet_name="omnigen2.safetensors", weight_dtype="default"),
        "2": _node("CLIPLoader", clip_name="qwen_2.5_vl_fp16.safetensors", type="omnigen2"),
        "3": _node("TextEncodeQwenImageEdit", prompt="a", clip=["2", 0]),
        "4": _node("CLIPTextEncode", text="b", clip=["2", 0]),
        "5": _node("DualCFGGuider", model=["1", 0], cond1=["3", 0], cond2=["4", 0], negative=["4", 0], cfg_conds=5),
        "6": _node("RandomNoise", noise_seed=1),
        "7": _node("KSamplerSelect", sampler_name="euler"),
        "8": _node("BasicScheduler", model=["1", 0], scheduler="simple", steps=20, denoise=1.0),
        "9": _node("EmptySD3LatentImage", width=1024, height=1024, batch_size=1),
        "10": _node(
            "SamplerCustomAdvanced",
            noise=["6", 0],
            guider=["5", 0],
            sampler=["7", 0],
            sigmas=["8", 0],
            latent_image=["9", 0],
        ),
        "11": _node("SaveImage", images=["10", 0], filename_prefix="x"),
    }
    found = infer_slots(wf)
    assert found.slots["positive"] == {"node": "3", "input": "prompt"}
    assert found.slots["negative"] == {"node": "4", "input": "text"}
    assert found.slots["text_encoder"] == {"node": "2", "input": "clip_name"}
    assert "clip_l" not in found.slots and "t5" not in found.slots


def test_loader_labels_say_what_is_loaded() -> None:
    from storybench.render.comfyui.loaders import loader_binding, loader_label

    assert loader_label("CLIPLoader", {"clip_name": "qwen_2.5_vl_7b_fp8_scaled.safetensors", "type": "qwen_image"}) == (
        "Qwen2.5-VL text encoder"
    )
    assert loader_label("CLIPLoader", {"clip_name": "mystery.safetensors", "type": "hidream"}) == (
        "text encoder (CLIPLoader, type hidream)"
    )
    assert loader_label("CLIPVisionLoader", {"clip_name": "clip_vision_h.safetensors"}) == "CLIP vision (image) encoder"
    assert loader_label("DualCLIPLoader", {"clip_name1": "clip_l.safetensors"}, "clip_name1") == "CLIP-L text encoder"
    assert loader_binding("CLIPVisionLoader", {"clip_name": "clip_vision_h.safetensors"}) == [
        ("clip_vision", "clip_name")
    ]
    wf = _controlnet_inpaint()
    wf["10"]["inputs"]["clip_vision"] = ["13", 0]  # a vision encoder is never the CLIP-L binding
    assert "clip_l" not in infer_slots(wf).slots


def test_a_bound_prompt_that_does_not_reach_the_output_is_refused() -> None:
    from storybench.render.comfyui.admission import check_admission

    wf = _controlnet_inpaint()
    wf["20"] = _node("CLIPTextEncode", text="stray", clip=["1", 1])
    found = infer_slots(wf, {"positive": "20"})
    with pytest.raises(WorkflowError, match=r"node 20 CLIPTextEncode.text, which does not reach the output node 12"):
        check_admission("wf.json", wf, found, None)
    assert check_admission("wf.json", wf, found, None, no_prompt=True) == []
