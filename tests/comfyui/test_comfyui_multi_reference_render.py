"""A panel with two characters rendered through a workflow with three chained references
against the test ComfyUI server (issue 20, must-show 2): the uploaded images are the two
characters' sheets, in speaker order, and the third reference is left out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from storybench.batch.engine import render_plan
from storybench.files import sha256_file
from storybench.render.comfyui import ComfyUIBackend
from storybench.render.comfyui.slots_infer import infer_slots

try:
    from comfy_server import ComfyTestServer
    from engine_support import small_settings
    from plan_factory import CHARACTERS, build_plan
except ImportError:  # tests/ imported as a package
    from tests.comfy_server import ComfyTestServer
    from tests.engine_support import small_settings
    from tests.plan_factory import CHARACTERS, build_plan

ROOT = Path(__file__).resolve().parents[2]


def kontext_three_references(folder: Path) -> Path:
    """flux1_kontext with two more LoadImage → FluxKontextImageScale → VAEEncode → ReferenceLatent
    links in its chain (ComfyUI's multi-reference Kontext pattern); no sidecar: bindings inferred."""
    wf = json.loads((ROOT / "workflows" / "flux1_kontext.json").read_text())
    cond = ["177", 0]
    for i, base in enumerate((200, 300), start=2):
        a, b, c, d = (str(base + k) for k in range(4))
        wf[a] = {"class_type": "LoadImage", "inputs": {"image": f"ref{i}.png"}, "_meta": {"title": f"Reference {i}"}}
        wf[b] = {"class_type": "FluxKontextImageScale", "inputs": {"image": [a, 0]}}
        wf[c] = {"class_type": "VAEEncode", "inputs": {"pixels": [b, 0], "vae": ["12", 0]}}
        wf[d] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": cond, "latent": [c, 0]}}
        cond = [d, 0]
    wf["35"]["inputs"]["conditioning"] = cond
    path = folder / "kontext_three_refs.json"
    path.write_text(json.dumps(wf, indent=1))
    (folder / "kontext_three_refs.slots.json").write_text(json.dumps(infer_slots(wf).slots))
    return path


def _panel(n: int, k: int) -> dict:
    # Bo speaks first, then Ann: the references go Bo, Ann although Ann is first in the cast
    return {
        "id": f"p{n}-k{k}",
        "characters": ["char-1", "char-2"],
        "action": "Ann and Bo argue",
        "location": "a rainy street at night",
        "mood": "tense",
        "camera": "medium shot",
        "dialogue": [{"character": "char-2", "text": "It was you."}, {"character": "char-1", "text": "No."}],
    }


def test_two_characters_two_sheets_in_speaker_order(tmp_path: Path) -> None:
    plan = build_plan(["single"], panel=_panel, characters=CHARACTERS, plan_id="two-refs", title="Two refs")
    workflow = kontext_three_references(tmp_path)
    with ComfyTestServer(seconds_per_prompt=0.01, history_delay=0.01) as server:
        backend = ComfyUIBackend(url=server.url, workflow=str(workflow))
        assert backend.max_reference_images == 3
        summary = render_plan(
            plan, backend=backend, output_dir=tmp_path / "out", settings=small_settings(), progress=False
        )
        assert summary.ok, summary
        sheets = summary.run_dir / "characters"
        expected = [sha256_file(sheets / "char-2.png"), sha256_file(sheets / "char-1.png")]
        panel_prompt = next(
            p for p in server.prompts.values() if any(n["class_type"] == "ReferenceLatent" for n in p.values())
        )
        loaders = [panel_prompt[n]["inputs"]["image"] for n in ("142", "200") if n in panel_prompt]
        assert [server_sha(server, name) for name in loaders] == expected
        assert "300" not in panel_prompt and "303" not in panel_prompt  # the third reference is left out
        assert panel_prompt["35"]["inputs"]["conditioning"] == ["203", 0]
        uploaded = [server_sha(server, name) for name in server.uploads]
        print("uploaded (speaker order):", list(server.uploads), "== sheets of char-2, char-1")
        assert uploaded == expected


def server_sha(server: ComfyTestServer, name: str) -> str:
    return hashlib.sha256(server.uploads[name]).hexdigest()
