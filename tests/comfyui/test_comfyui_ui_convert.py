"""UI-format workflows (ComfyUI's "Save") converted to the API format, node by node, with an
``/object_info`` captured from the ComfyUI test server; ``workflow add`` of a UI-format
FLUX Kontext workflow followed by a render against that server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from storybench.batch import read_catalog, render_plan
from storybench.cli import main
from storybench.config import RenderSettings
from storybench.exceptions import WorkflowError
from storybench.plan import parse_plan
from storybench.render.comfyui import ComfyUIBackend
from storybench.render.comfyui.library import add_workflow, list_workflows, read_workflow_file
from storybench.render.comfyui.ui_convert import ui_to_api, widget_names
from storybench.render.comfyui.workflow import WorkflowTemplate, shipped_workflows_dir

try:
    from comfy_server import ComfyTestServer
    from plan_factory import plan_dict
except ImportError:  # tests/ imported as a package
    from tests.comfy_server import ComfyTestServer
    from tests.plan_factory import plan_dict

DATA = Path(__file__).parents[1] / "data" / "comfy"
EXPECTED = {
    "flux1_kontext": shipped_workflows_dir() / "flux1_kontext.json",
    "sd15_txt2img": shipped_workflows_dir() / "sd15_txt2img.json",
    "empty_image": shipped_workflows_dir() / "empty_image.json",
    "flux1_dev_custom": DATA / "flux1_dev_custom.api.json",
    "sdxl_refiner": DATA / "sdxl_refiner.api.json",
    "img2img": DATA / "img2img.api.json",
    "titled": DATA / "titled.api.json",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def server():
    with ComfyTestServer(seconds_per_prompt=0.02, history_delay=0.02) as srv:
        yield srv


@pytest.fixture(scope="module")
def object_info(server) -> dict:
    """``GET /object_info`` of the test server, plus the classes it does not serve
    (samplers of the custom family, KSamplerAdvanced, ImageScale...) from tests/data."""
    info = httpx.get(f"{server.url}/object_info", timeout=10).json()
    extra = _load(DATA / "object_info_extra.json")
    assert not set(extra) & set(info)
    return {**info, **extra}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ui_workflow_converts_to_the_api_export_node_by_node(name: str, object_info: dict) -> None:
    got = ui_to_api(_load(DATA / f"{name}.ui.json"), object_info)
    want = _load(EXPECTED[name])
    assert sorted(got, key=int) == sorted(want, key=int)
    for node_id, node in want.items():
        assert got[node_id] == node, f"node {node_id}"


def test_kontext_save_has_every_special_case(object_info: dict) -> None:
    ui = _load(DATA / "flux1_kontext.ui.json")
    kinds = {n["type"]: n.get("mode", 0) for n in ui["nodes"]}
    assert {"Reroute", "PrimitiveNode", "Note"} <= set(kinds)
    assert kinds["LoraLoaderModelOnly"] == 4 and 2 in [n.get("mode") for n in ui["nodes"] if n["type"] == "SaveImage"]
    api = ui_to_api(ui, object_info)
    assert api["31"]["inputs"]["model"] == ["10", 0]  # through the bypassed LoRA
    assert api["8"]["inputs"]["vae"] == ["12", 0]  # through the reroute
    assert api["31"]["inputs"]["seed"] == 0  # the primitive's value, not the KSampler's stale widget
    assert "53" not in api and "54" not in api and "50" not in api and "51" not in api and "52" not in api


def test_seed_control_value_is_skipped_and_widget_order_follows_object_info(object_info: dict) -> None:
    assert widget_names(object_info["KSampler"]) == [
        ("seed", True),
        ("steps", False),
        ("cfg", False),
        ("sampler_name", False),
        ("scheduler", False),
        ("denoise", False),
    ]
    assert [n for n, _ in widget_names(object_info["DualCLIPLoader"])] == ["clip_name1", "clip_name2", "type", "device"]
    node = {"id": 3, "type": "KSampler", "mode": 0, "widgets_values": [5, "increment", 30, 6.5, "heun", "karras", 0.5]}
    api = ui_to_api({"nodes": [node], "links": []}, object_info)
    assert api["3"]["inputs"] == {
        "seed": 5,
        "steps": 30,
        "cfg": 6.5,
        "sampler_name": "heun",
        "scheduler": "karras",
        "denoise": 0.5,
    }


def _two_nodes(mode: int, *, loader_inputs: list | None = None) -> dict:
    """UNETLoader 1 → (node 2 in ``mode``) → KSampler 3's model."""
    return {
        "nodes": [
            {"id": 1, "type": "UNETLoader", "mode": 0, "widgets_values": ["flux1-dev.safetensors", "default"]},
            {
                "id": 2,
                "type": "LoraLoaderModelOnly",
                "mode": mode,
                "inputs": loader_inputs
                if loader_inputs is not None
                else [{"name": "model", "type": "MODEL", "link": 1}],
                "outputs": [{"name": "MODEL", "type": "MODEL", "links": [2]}],
                "widgets_values": ["comic-style.safetensors", 1.0],
            },
            {
                "id": 3,
                "type": "KSampler",
                "mode": 0,
                "inputs": [{"name": "model", "type": "MODEL", "link": 2}],
                "widgets_values": [1, "fixed", 20, 7, "euler", "normal", 1],
            },
        ],
        "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"]],
    }


def test_muted_bypassed_and_plain_nodes(object_info: dict) -> None:
    plain = ui_to_api(_two_nodes(0), object_info)
    assert plain["3"]["inputs"]["model"] == ["2", 0] and plain["2"]["inputs"]["model"] == ["1", 0]
    bypassed = ui_to_api(_two_nodes(4), object_info)
    assert "2" not in bypassed and bypassed["3"]["inputs"]["model"] == ["1", 0]
    muted = ui_to_api(_two_nodes(2), object_info)
    assert "2" not in muted and "model" not in muted["3"]["inputs"]  # inputs linked to removed nodes go
    # a bypassed node with no input of the link's type passes nothing
    no_match = ui_to_api(_two_nodes(4, loader_inputs=[{"name": "clip", "type": "CLIP", "link": None}]), object_info)
    assert "model" not in no_match["3"]["inputs"]


def test_link_fed_widgets_left_out_of_widgets_values(object_info: dict) -> None:
    api = ui_to_api(_load(DATA / "titled.ui.json"), object_info)
    assert api["5"]["inputs"] == {"width": 640, "height": 896, "batch_size": 1}
    assert api["3"]["inputs"]["steps"] == 20 and api["3"]["inputs"]["seed"] == ["30", 0]


def test_unknown_class_and_subgraphs_are_named(object_info: dict) -> None:
    label = {"id": 8, "type": "Label (rgthree)", "mode": 0, "widgets_values": ["Models"]}
    ui = {
        "nodes": [
            {"id": 7, "type": "FancyUpscaler", "mode": 0, "title": "Upscale x4", "outputs": [{"links": [1]}]},
            {"id": 9, "type": "SaveImage", "mode": 0, "inputs": [{"name": "images", "type": "IMAGE", "link": 1}]},
            label,
        ],
        "links": [[1, 7, 0, 9, 0, "IMAGE"]],
    }
    with pytest.raises(WorkflowError, match=r"node 7 \(Upscale x4\) is a FancyUpscaler.*not installed"):
        ui_to_api(ui, object_info)
    with pytest.raises(WorkflowError, match="subgraphs"):
        ui_to_api({"nodes": [], "links": [], "definitions": {"subgraphs": [{"id": "x"}]}}, object_info)
    # an unknown class linked to nothing is decoration, dropped like a Note
    save = {"id": 9, "type": "SaveImage", "mode": 0, "widgets_values": ["x"]}
    assert set(ui_to_api({"nodes": [save, label], "links": []}, object_info)) == {"9"}


def test_png_saved_by_comfyui(tmp_path: Path) -> None:
    api = _load(shipped_workflows_dir() / "sd15_txt2img.json")
    ui = _load(DATA / "sd15_txt2img.ui.json")

    def png(**chunks: str) -> Path:
        info = PngInfo()
        for key, text in chunks.items():
            info.add_text(key, text)
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
        path = tmp_path / f"{'_'.join(chunks) or 'bare'}.png"
        path.write_bytes(buf.getvalue())
        return path

    assert read_workflow_file(png(prompt=json.dumps(api), workflow=json.dumps(ui))) == (api, "api")
    assert read_workflow_file(png(workflow=json.dumps(ui))) == (ui, "ui")
    with pytest.raises(WorkflowError, match="no 'prompt' or 'workflow' text chunk"):
        read_workflow_file(png())


def test_ui_workflow_without_a_server_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="STORYBENCH_COMFYUI_URL") as err:
        add_workflow(DATA / "sd15_txt2img.ui.json", url="http://127.0.0.1:9", folder=tmp_path)
    assert "/object_info" in str(err.value) and "http://127.0.0.1:9" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_workflow_add_of_ui_kontext_then_render(server, tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "my-workflows"
    monkeypatch.setenv("STORYBENCH_COMFYUI_WORKFLOWS", str(folder))
    monkeypatch.setenv("STORYBENCH_COMFYUI_URL", server.url)
    assert main(["workflow", "add", str(DATA / "flux1_kontext.ui.json"), "--name", "my_kontext"]) == 0
    out = capsys.readouterr().out
    assert "converted from the UI format" in out
    for words in (
        "positive prompt [positive]: node 6",
        "seed [seed]: node 31 KSampler",
        "width (pixels) [width]: node 27",
        "height (pixels) [height]: node 27",
        "reference image [reference_image]: node 142 LoadImage",
        "output image node [output]: node 9 SaveImage",
        "diffusion model (UNet) [unet]: node 10",
        "flux1-kontext-dev-fp8.safetensors",
    ):
        assert words in out, words
    assert (folder / "my_kontext.json").is_file() and (folder / "my_kontext.slots.json").is_file()
    assert {(i.name, i.source) for i in list_workflows()} >= {("my_kontext", "user"), ("flux1_kontext", "shipped")}
    # adding it again needs --force
    assert main(["workflow", "add", str(DATA / "flux1_kontext.ui.json"), "--name", "my_kontext"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["workflow", "show", "my_kontext"]) == 0
    assert "reference image: yes" in capsys.readouterr().out

    template = WorkflowTemplate.load("my_kontext")
    assert template.supports_reference
    plan = parse_plan(plan_dict(("two-horizontal",), plan_id="kontext-added"))
    settings = RenderSettings(page_width=600, page_height=900, panel_max_side=256, margin=20, gutter=10)
    with ComfyUIBackend(url=server.url, workflow="my_kontext", poll_interval=0.05) as backend:
        summary = render_plan(plan, backend=backend, output_dir=tmp_path / "out", settings=settings, progress=False)
    assert summary.status == "completed", summary.errors
    catalog = read_catalog(tmp_path / "out")
    panels = catalog[(catalog.run_id == summary.run_id) & (catalog.kind == "panel")]
    assert len(panels) == 2 and set(panels.workflow) == {"my_kontext"}
    panel_prompts = [
        p for p in server.prompts.values() if any(n["class_type"] == "ReferenceLatent" for n in p.values())
    ]
    assert len(panel_prompts) == 2
    for prompt in panel_prompts:
        assert prompt["142"]["inputs"]["image"] in server.uploads  # the character sheet, uploaded
        assert prompt["31"]["inputs"]["model"] == ["10", 0]


def test_cli_add_reports_ambiguity_then_takes_a_slot_choice(object_info, tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "wf"
    monkeypatch.setenv("STORYBENCH_COMFYUI_WORKFLOWS", str(folder))
    info_file = tmp_path / "object_info.json"
    info_file.write_text(json.dumps(object_info), encoding="utf-8")
    ui = str(DATA / "sdxl_refiner.ui.json")
    # UI format converted offline with a saved /object_info; two samplers: exit 1 naming both
    assert main(["workflow", "add", ui, "--name", "refiner", "--object-info", str(info_file)]) == 1
    err = capsys.readouterr().err
    assert "10 KSamplerAdvanced 'KSampler (Advanced) - BASE'" in err
    assert "11 KSamplerAdvanced 'KSampler (Advanced) - REFINER'" in err and "--slot seed=10" in err
    assert not folder.exists() or not any(folder.iterdir())
    args = ["workflow", "add", ui, "--name", "refiner", "--object-info", str(info_file), "--slot", "seed=10"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "seed [seed]: node 10 KSamplerAdvanced 'KSampler (Advanced) - BASE', input noise_seed" in out
    assert "(your choice)" in out
    template = WorkflowTemplate.load("refiner")
    expected = _load(DATA / "sdxl_refiner.slots.json")
    assert {k: (v.node_id, v.input) for k, v in template.slots.items()} == {
        k: (v["node"], v.get("input")) for k, v in expected.items() if not k.startswith("_")
    }
    assert main(["workflow", "add", ui, "--slot", "positive"]) == 1
    assert "expected SLOT=NODE" in capsys.readouterr().err


def test_bind_is_the_new_name_of_slot(object_info, tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "wf"
    monkeypatch.setenv("STORYBENCH_COMFYUI_WORKFLOWS", str(folder))
    info_file = tmp_path / "object_info.json"
    info_file.write_text(json.dumps(object_info), encoding="utf-8")
    ui = str(DATA / "sdxl_refiner.ui.json")
    assert main(["workflow", "add", ui, "--name", "refiner", "--object-info", str(info_file), "--bind", "seed=10"]) == 0
    assert "seed [seed]: node 10 KSamplerAdvanced" in capsys.readouterr().out
    assert json.loads((folder / "refiner.slots.json").read_text(encoding="utf-8"))["seed"] == {
        "node": "10",
        "input": "noise_seed",
    }


def test_dynamic_prompt_choices_are_made_once_and_the_same_each_time() -> None:
    from storybench.render.comfyui.dynamic_prompts import process_dynamic_prompt

    text = "a {red|blue|{dark|light} green} cat // note"
    first = process_dynamic_prompt(text)
    assert first == process_dynamic_prompt(text)
    assert first in {"a red cat ", "a blue cat ", "a dark green cat ", "a light green cat "}
    assert process_dynamic_prompt(r"keep \{this\|that\}") == "keep {this|that}"
    assert process_dynamic_prompt("no braces, no comments") == "no braces, no comments"
