"""Candidates benchmark (issue 20): N candidates on K servers take about N/K of the time.

Starts two ComfyUI test servers (tests/comfy_server.py; a fixed time per prompt, one
prompt at a time like a GPU) and renders a plan of scenery panels through the batch
engine with the ComfyUI backend (``empty_image`` workflow):

* baseline: 1 candidate per panel on 1 server;
* candidates: 4 candidates per panel (``candidates=4, pick="best"``) on 2 servers.

Prints ``candidates_wall_ratio_4_on_2_servers=`` (candidates wall / baseline wall;
ideal 2.0, target <= 2.2) and ``score_ms_per_candidate=`` (the weight-free scorer on a
storyboard panel of plans/comet-vs-gearlock.json with three characters, mean of 20
runs, milliseconds; target <= 50).

Usage: PYTHONPATH=. python bench/bench_candidates.py [--panels 6] [--seconds 0.3] [--smoke]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from comfy_server import ComfyTestServer  # noqa: E402
from plan_factory import build_plan  # noqa: E402

from storybench.batch.engine import render_plan  # noqa: E402
from storybench.batch.references import character_sheet_spec  # noqa: E402
from storybench.config import RenderSettings  # noqa: E402
from storybench.plan.loading import load_plan  # noqa: E402
from storybench.render.comfyui import ComfyUIBackend  # noqa: E402
from storybench.render.spec import CastMember, RenderSpec  # noqa: E402
from storybench.render.storyboard import render_storyboard  # noqa: E402
from storybench.scoring import get_scorer, score_cast  # noqa: E402


def _scenery(n: int, k: int) -> dict:
    return {"id": f"p{n}-k{k}", "characters": [], "action": f"an empty harbour {n}.{k}", "camera": "wide shot"}


def _wall(urls: list[str], panels: int, candidates: int, out: Path) -> float:
    layouts = ["grid-2x2"] * (panels // 4) + (["single"] * (panels % 4))
    plan = build_plan(layouts, panel=_scenery, characters=[], plan_id="bench-candidates", title="Bench")
    settings = RenderSettings(
        page_width=400, page_height=600, panel_max_side=128, dpi=72, exports=[], candidates=candidates, pick="best"
    )
    backend = ComfyUIBackend(url=urls, workflow="empty_image", queue_depth=2)
    t0 = time.perf_counter()
    summary = render_plan(plan, backend=backend, output_dir=out, settings=settings, progress=False)
    wall = time.perf_counter() - t0
    backend.close()
    if not summary.ok:
        raise SystemExit(f"render failed: {summary.errors}")
    return wall


def score_ms() -> float:
    plan = load_plan(ROOT / "plans" / "comet-vs-gearlock.json")
    cast = tuple(
        CastMember(id=c.id, name=c.name, appearance=c.appearance, clothing=c.clothing or "") for c in plan.characters
    )
    spec = RenderSpec(prompt="p", seed=3, width=1024, height=768, style=plan.style, camera="medium shot", cast=cast)
    buf = io.BytesIO()
    render_storyboard(spec).save(buf, "PNG")
    png = buf.getvalue()
    sheets = {c.id: render_storyboard(character_sheet_spec(plan, c, RenderSettings())) for c in plan.characters}
    scorer = get_scorer("palette")
    score_cast(scorer, png, spec, sheets)  # warm up
    runs = 20
    t0 = time.perf_counter()
    for _ in range(runs):
        score_cast(scorer, png, spec, sheets)
    return (time.perf_counter() - t0) / runs * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=0.3, help="test server seconds per prompt")
    ap.add_argument("--smoke", action="store_true", help="a few seconds: CI runs every bench so")
    args = ap.parse_args()
    if args.smoke:
        args.panels, args.seconds = 2, 0.1
    with (
        ComfyTestServer(seconds_per_prompt=args.seconds, history_delay=0.01) as a,
        ComfyTestServer(seconds_per_prompt=args.seconds, history_delay=0.01) as b,
        tempfile.TemporaryDirectory() as tmp,
    ):
        one = _wall([a.url], args.panels, 1, Path(tmp) / "one")
        four = _wall([a.url, b.url], args.panels, 4, Path(tmp) / "four")
    print(f"panels={args.panels} seconds_per_prompt={args.seconds}")
    print(f"wall_1_candidate_1_server={one:.3f}")
    print(f"wall_4_candidates_2_servers={four:.3f}")
    print(f"candidates_wall_ratio_4_on_2_servers={four / one:.3f}")
    print(f"score_ms_per_candidate={score_ms():.2f}")


if __name__ == "__main__":
    main()
