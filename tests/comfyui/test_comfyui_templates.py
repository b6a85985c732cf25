"""Every official ComfyUI workflow template converted by storybench equals what ComfyUI's own
frontend queues for it.

The templates come from the installed ``comfyui-workflow-templates`` package (the version
ComfyUI's ``requirements.txt`` pins; pinned in the ``test`` extra). The reference is stored in
``tests/data/comfy_templates/``: ``object_info.json.gz`` (a real ComfyUI's ``/object_info``, the
classes the templates use) and ``expected.json.gz`` (``app.graphToPrompt().output`` of
ComfyUI's frontend in Chromium for each template), made by ``scripts/make_template_fixtures.py``
(its docstring says how to make them again for a new ComfyUI).
"""

from __future__ import annotations

import gzip
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.ui_convert import is_ui_format, ui_to_api

templates = pytest.importorskip("comfyui_workflow_templates")

DATA = Path(__file__).parents[1] / "data" / "comfy_templates"
#: templates that use a node class ComfyUI itself does not ship (a custom node pack): refused.
CUSTOM_NODES = {"video_wan2_2_14B_animate.json": "PixelPerfectResolution"}


def _gz(name: str) -> Any:
    return json.loads(gzip.decompress((DATA / name).read_bytes()))


def _diff(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    lines = []
    for node_id in sorted(set(got) | set(want)):
        if got.get(node_id) != want.get(node_id):
            lines.append(f"node {node_id}: storybench {got.get(node_id)} / frontend {want.get(node_id)}")
    return lines


def test_every_template_converts_like_the_frontend() -> None:
    expected = _gz("expected.json.gz")
    object_info = _gz("object_info.json.gz")
    folder = Path(templates.get_templates_path())
    assert expected["versions"]["comfyui-workflow-templates"] == version("comfyui-workflow-templates")
    identical: list[str] = []
    refused: dict[str, str] = {}
    different: dict[str, list[str]] = {}
    for name, want in sorted(expected["templates"].items()):
        ui = json.loads((folder / name).read_text(encoding="utf-8"))
        assert is_ui_format(ui), name
        try:
            got = ui_to_api(ui, object_info, source=name)
        except WorkflowError as exc:
            refused[name] = str(exc)
            continue
        if got == want:
            identical.append(name)
        else:
            different[name] = _diff(got, want)
    print(
        f"\ntemplates ({expected['versions']}): {len(identical)} identical to the frontend / "
        f"{len(refused)} refused with a reason / {len(different)} different"
    )
    for name, reason in refused.items():
        print(f"  refused {name}: {reason}")
    assert different == {}
    assert "default.json" in identical
    assert len(identical) + len(refused) == len(expected["templates"]) >= 170
    for name, node_class in CUSTOM_NODES.items():
        assert node_class in refused[name] and "not installed" in refused[name]
    assert set(refused) == set(CUSTOM_NODES)


def test_small_cases_convert_like_the_frontend() -> None:
    """Comments and escapes in a dynamic-prompts text, a ``false`` seed control, a node saved
    without widget values, one saved with fewer values than widgets."""
    object_info = _gz("object_info.json.gz")
    cases = _gz("expected.json.gz")["cases"]
    assert set(cases) == {"widget_values"}
    for name, case in cases.items():
        assert ui_to_api(case["ui"], object_info, source=name) == case["api"], name
    assert cases["widget_values"]["api"]["1"]["inputs"]["text"] == "a cat \nwith {braces} and a  hat"


def test_default_template_reads_the_saved_true_as_the_seed_control() -> None:
    """``default.json`` saves the KSampler's control as ``true`` (an old frontend's toggle) and
    the SaveImage without widget values: cfg is 8, not 20, and the prefix is the default."""
    ui = json.loads((Path(templates.get_templates_path()) / "default.json").read_text(encoding="utf-8"))
    api = ui_to_api(ui, _gz("object_info.json.gz"))
    widgets = {k: v for k, v in api["3"]["inputs"].items() if not isinstance(v, list)}
    assert widgets == {
        "seed": 156680208700286,
        "steps": 20,
        "cfg": 8,
        "sampler_name": "euler",
        "scheduler": "normal",
        "denoise": 1,
    }
    assert api["9"]["inputs"]["filename_prefix"] == "ComfyUI"


def test_subgraph_nodes_are_expanded_with_their_widget_values() -> None:
    name = "image_flux.1_fill_dev_OneReward.json"
    ui = json.loads((Path(templates.get_templates_path()) / name).read_text(encoding="utf-8"))
    api = ui_to_api(ui, _gz("object_info.json.gz"))
    inner = sorted(k for k in api if k.startswith("48:"))
    assert inner == ["48:199", "48:251", "48:252", "48:253"]
    assert api["48:199"]["inputs"]["expand"] == 0 and api["48:252"]["inputs"]["blur_radius"] == 31
    assert "48" not in api


# ---------------------------------------------------------------- workflow add of official templates


def _add(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    from storybench.cli import main

    info = tmp_path / "object_info.json"
    if not info.exists():
        info.write_text(json.dumps(_gz("object_info.json.gz")), encoding="utf-8")
    path = Path(templates.get_templates_path()) / name
    code = main(["workflow", "add", str(path), "--object-info", str(info), *flags])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "workflows"
    monkeypatch.setenv("STORYBENCH_COMFYUI_WORKFLOWS", str(folder))
    return folder


def test_omnigen2_prompt_enters_through_the_dual_cfg_guider(user_folder, tmp_path, capsys) -> None:
    code, out = _add("image_omnigen2_t2i.json", tmp_path, capsys)
    assert code == 0, out
    assert "positive prompt [positive]: node 6 CLIPTextEncode" in out
    assert "negative prompt [negative]: node 7 CLIPTextEncode" in out
    assert "Qwen2.5-VL text encoder [text_encoder]: node 10 CLIPLoader" in out
    assert "CLIP-L" not in out


def test_qwen_image_edit_prompt_is_the_edit_encoders_and_its_image_a_reference(user_folder, tmp_path, capsys) -> None:
    code, out = _add("image_qwen_image_edit.json", tmp_path, capsys)
    assert code == 0, out
    assert "positive prompt [positive]: node 76 TextEncodeQwenImageEdit" in out
    assert "reference image [reference_image]: node 78 LoadImage" in out
    assert "image input: node 78 LoadImage = 'Qwen-Image_00043_.png', reference" in out


def test_api_template_names_its_paid_nodes_and_needs_the_flag(user_folder, tmp_path, capsys) -> None:
    code, out = _add("api_openai_image_1_t2i.json", tmp_path, capsys)
    assert code == 1
    assert "10 OpenAIGPTImage1 ('OpenAI GPT Image 1')" in out and "--allow-api-nodes" in out
    assert not user_folder.exists() or not any(user_folder.iterdir())
    code, out = _add("api_openai_image_1_t2i.json", tmp_path, capsys, "--allow-api-nodes")
    assert code == 0, out
    assert "positive prompt [positive]: node 10 OpenAIGPTImage1" in out and "paid API nodes" in out


def test_depth_controlnet_map_is_a_control_image_not_a_reference(user_folder, tmp_path, capsys) -> None:
    code, out = _add("depth_controlnet.json", tmp_path, capsys)
    assert code == 0, out
    assert "[reference_image]" not in out
    assert (
        "image input: node 20 LoadImage = 'depth_input (1).png', control image: kept as the workflow has it "
        "(feeds 42 ControlNetApplyAdvanced.image)"
    ) in out
    assert "negative prompt [negative]: node 7 CLIPTextEncode" in out  # output 1 of ControlNetApplyAdvanced


def test_kontext_load_image_output_is_the_reference(user_folder, tmp_path, capsys) -> None:
    code, out = _add("flux_kontext_dev_basic.json", tmp_path, capsys)
    assert code == 0, out
    assert "reference image [reference_image]: node 142 LoadImageOutput" in out
    assert "takes the reference image's size" in out


def test_a_workflow_the_prompt_cannot_reach_is_refused_unless_no_prompt(user_folder, tmp_path, capsys) -> None:
    code, out = _add("image_lotus_depth_v1_1.json", tmp_path, capsys)
    assert code == 1
    assert "no prompt binding reaches the output" in out and "68 LotusConditioning" in out and "--no-prompt" in out
    code, out = _add("image_lotus_depth_v1_1.json", tmp_path, capsys, "--no-prompt")
    assert code == 0, out
    assert json.loads((user_folder / "image_lotus_depth_v1_1.slots.json").read_text())["_added"]["no_prompt"] is True
