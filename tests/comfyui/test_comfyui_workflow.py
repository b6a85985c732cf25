"""Workflow templates: shipped templates, slot resolution, filling, presets, server checks."""

from __future__ import annotations

import json

import pytest

from storybench.exceptions import ConfigError, WorkflowError
from storybench.render.comfyui import WorkflowTemplate, check_prompt, template_names
from storybench.render.spec import RenderSpec

SHIPPED = {
    "sd15_txt2img",
    "sdxl_txt2img",
    "flux1_dev",
    "flux1_schnell",
    "flux1_kontext",
    "character_sheet",
    "empty_image",
}


def spec(**kw):
    base = dict(
        prompt="a detective in the rain", negative_prompt="blurry", seed=1234, width=512, height=768, panel_id="p1-2"
    )
    base.update(kw)
    return RenderSpec(**base)


def test_shipped_templates_load_and_fill_their_slots():
    assert set(template_names()) >= SHIPPED
    for name in SHIPPED:
        t = WorkflowTemplate.load(name)
        wf = t.fill(spec())
        assert wf is not t.workflow
        for slot, expected in (("seed", 1234), ("width", 512), ("height", 768)):
            if t.has_slot(slot):
                s = t.slots[slot]
                assert wf[s.node_id]["inputs"][s.input] == expected, (name, slot)
        if t.has_slot("positive"):
            s = t.slots["positive"]
            assert "a detective in the rain" in wf[s.node_id]["inputs"][s.input]
        assert wf[t.output_node]["class_type"] == "SaveImage"
        assert t.workflow != wf  # the template itself is never written
    assert WorkflowTemplate.load("flux1_kontext").supports_reference
    assert not WorkflowTemplate.load("sd15_txt2img").supports_reference


def test_kontext_models_and_reference_slot():
    t = WorkflowTemplate.load("flux1_kontext")
    wf = t.fill(spec(), reference_image="sheet_abc.png")
    values = {(n["class_type"], k): v for n in wf.values() for k, v in n["inputs"].items()}
    assert values[("UNETLoader", "unet_name")] == "flux1-kontext-dev-fp8.safetensors"
    assert values[("DualCLIPLoader", "clip_name1")] == "clip_l.safetensors"
    assert values[("DualCLIPLoader", "clip_name2")] == "t5xxl_fp8_e4m3fn.safetensors"
    assert values[("VAELoader", "vae_name")] == "ae.safetensors"
    assert values[("LoadImage", "image")] == "sheet_abc.png"
    assert {"ReferenceLatent", "FluxGuidance", "FluxKontextImageScale"} <= {n["class_type"] for n in wf.values()}
    with pytest.raises(WorkflowError, match="no reference_image slot"):
        WorkflowTemplate.load("sd15_txt2img").fill(spec(), reference_image="x.png")


def test_presets_params_and_types():
    t = WorkflowTemplate.load("flux1_kontext")
    steps = t.slots["steps"]
    assert t.fill(spec(params={"quality": "preview"}))[steps.node_id]["inputs"]["steps"] == 24
    assert t.fill(spec(params={"quality": "final"}))[steps.node_id]["inputs"]["steps"] == 28
    assert t.fill(spec(params={"quality": "final", "steps": 22}))[steps.node_id]["inputs"]["steps"] == 22
    sd = WorkflowTemplate.load("sd15_txt2img")
    wf = sd.fill(spec(params={"checkpoint": "dreamshaper_8.safetensors", "cfg": "5.5", "sampler": "dpmpp_2m"}))
    assert wf["4"]["inputs"]["ckpt_name"] == "dreamshaper_8.safetensors"
    assert wf["3"]["inputs"]["cfg"] == 5.5 and wf["3"]["inputs"]["sampler_name"] == "dpmpp_2m"
    assert wf["7"]["inputs"]["text"] == "blurry"
    assert wf["9"]["inputs"]["filename_prefix"] == "storybench/sd15_p1-2"
    with pytest.raises(ConfigError, match=r"params.quality"):
        t.fill(spec(params={"quality": "ultra"}))
    with pytest.raises(ConfigError, match=r"params.steps"):
        sd.fill(spec(params={"steps": "many"}))


def test_empty_image_color_follows_seed_unless_given():
    t = WorkflowTemplate.load("empty_image")
    a = t.fill(spec(seed=1))["1"]["inputs"]["color"]
    b = t.fill(spec(seed=2))["1"]["inputs"]["color"]
    assert a != b and 0 <= a <= 0xFFFFFF
    assert t.fill(spec(params={"color": "0xff0000"}))["1"]["inputs"]["color"] == 0xFF0000


def test_user_workflow_with_dict_slots_by_title_and_id():
    exported = {
        "10": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "my.safetensors"},
            "_meta": {"title": "Load Checkpoint"},
        },
        "11": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["10", 1]}, "_meta": {"title": "Prompt"}},
        "12": {
            "class_type": "SaveImage",
            "inputs": {"images": ["11", 0], "filename_prefix": "x"},
            "_meta": {"title": "Out"},
        },
    }
    t = WorkflowTemplate(exported, {"positive": ("Prompt", "text"), "checkpoint": {"node": "10", "input": "ckpt_name"}})
    assert t.output_node == "12"  # the single SaveImage is found without an output slot
    assert t.fill(spec())["11"]["inputs"]["text"] == "a detective in the rain"


def test_unresolved_slots_name_what_was_looked_for(tmp_path):
    exported = {"5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0]}, "_meta": {"title": "Save"}}}
    with pytest.raises(WorkflowError) as info:
        WorkflowTemplate(
            exported,
            {"positive": {"node": "Positive Prompt", "input": "text"}, "seed": {"node": "5", "input": "seed"}},
            name="mine",
        )
    text = str(info.value)
    assert "'Positive Prompt'" in text and "no such node" in text
    assert "node 5 (SaveImage" in text and "no input 'seed'" in text
    assert "5 SaveImage 'Save'" in text  # the nodes present are listed
    ui = tmp_path / "ui.json"
    ui.write_text(json.dumps({"nodes": [], "links": []}))
    (tmp_path / "ui.slots.json").write_text("{}")
    with pytest.raises(WorkflowError, match="Export \\(API\\)"):
        WorkflowTemplate.load(ui)
    with pytest.raises(WorkflowError, match=r"known: .*sd15_txt2img"):
        WorkflowTemplate.load("no_such_template")
    bad = tmp_path / "bad.json"
    bad.write_text('{"1": ')
    with pytest.raises(WorkflowError, match=r"bad.json:1:"):
        WorkflowTemplate.load(bad)


def test_check_prompt_names_missing_models_and_nodes():
    t = WorkflowTemplate.load("sdxl_txt2img")
    info = {
        "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["v1-5-pruned-emaonly.safetensors"], {}]}}},
        "KSampler": {"input": {"required": {"sampler_name": ["COMBO", {"options": ["euler"]}], "seed": ["INT", {}]}}},
    }
    problems = check_prompt(t.fill(spec()), info, template=t)
    assert any(
        p.startswith("checkpoint sd_xl_base_1.0.safetensors is not installed")
        and "installed: v1-5-pruned-emaonly.safetensors" in p
        for p in problems
    )
    assert any("class_type CLIPTextEncode" in p for p in problems)
    assert not any("sampler_name" in p for p in problems)


def test_character_sheet_cells_and_grid():
    import io

    from PIL import Image

    from storybench.render.comfyui.sheet import cell_specs, compose_grid, sheet_grid

    sheet = spec(width=600, height=900, params={"kind": "character_sheet", "grid": 3, "steps": 20})
    assert sheet_grid(sheet) == 3
    cells = cell_specs(sheet, 3)
    assert len(cells) == 9 and [c.seed for c in cells] == list(range(1234, 1243))
    assert {(c.width, c.height) for c in cells} == {(200, 296)}
    assert all(c.params == {"steps": 20} for c in cells) and len({c.prompt for c in cells}) == 9
    pngs = []
    for i in range(9):
        buf = io.BytesIO()
        Image.new("RGB", (200, 296), (i * 20, 0, 0)).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    with Image.open(io.BytesIO(compose_grid(pngs, 3, 600, 900))) as img:
        assert img.size == (600, 900)
        assert img.getpixel((500, 800)) == (160, 0, 0) and img.getpixel((10, 10)) == (0, 0, 0)
    with pytest.raises(ConfigError, match=r"params.grid"):
        sheet_grid(spec(params={"kind": "character_sheet", "grid": 5}))


KSAMPLER_INFO = {
    "KSampler": {
        "input": {
            "required": {
                "seed": ["INT", {"default": 0, "min": 0, "max": 18446744073709551615, "control_after_generate": True}],
                "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
                "cfg": ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0}],
                "sampler_name": [["euler", "dpmpp_2m"], {}],
                "scheduler": [["normal", "karras"], {}],
                "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0}],
            }
        }
    }
}


def _ksampler(**inputs):
    values = {"seed": 1, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}
    return {"3": {"class_type": "KSampler", "inputs": {**values, **inputs}}}


def test_check_prompt_checks_every_value_against_object_info():
    assert check_prompt(_ksampler(), KSAMPLER_INFO) == []
    assert check_prompt(_ksampler(denoise="normal"), KSAMPLER_INFO) == [
        "node 3 (KSampler) input denoise = 'normal': expected a number from 0.0 to 1.0"
    ]
    assert check_prompt(_ksampler(steps=True), KSAMPLER_INFO) == [
        "node 3 (KSampler) input steps = True: expected a whole number from 1 to 10000"
    ]
    assert check_prompt(_ksampler(steps=2.5, cfg=101), KSAMPLER_INFO) == [
        "node 3 (KSampler) input steps = 2.5: expected a whole number from 1 to 10000",
        "node 3 (KSampler) input cfg = 101: expected a number from 0.0 to 100.0",
    ]
    assert check_prompt(_ksampler(scheduler="euler"), KSAMPLER_INFO) == [
        "node 3 (KSampler) input scheduler: 'euler' is not one of ['normal', 'karras']"
    ]
    assert check_prompt(_ksampler(steps=["9", 0]), KSAMPLER_INFO) == []  # a link is not a value


def test_check_prompt_names_the_binding_of_a_filled_value():
    t = WorkflowTemplate(_ksampler(), {"steps": ("3", "steps"), "output": ("3",)})
    assert check_prompt(_ksampler(steps=0), KSAMPLER_INFO, template=t) == [
        "node 3 (KSampler) input steps = 0 (binding steps): expected a whole number from 1 to 10000"
    ]


def test_boolean_params_are_not_numbers():
    t = WorkflowTemplate.load("sd15_txt2img")
    with pytest.raises(ConfigError, match=r"params.steps: True is not a valid int"):
        t.settings({"steps": True})
    with pytest.raises(ConfigError, match=r"params.cfg: False is not a valid float"):
        t.settings({"cfg": False})
    with pytest.raises(ConfigError, match=r"params.cfg: 'normal' is not a valid float"):
        t.settings({"cfg": "normal"})
