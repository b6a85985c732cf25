"""Benchmark: storyboard render time per panel and page composition time per page.

Prints, for every layout template, the milliseconds to render one ~1000-pixel storyboard
panel and to compose + letter one full page (1988 x 3075 px) of the example plans.

    python bench/bench_compose.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

from PIL import Image

from storybench.compose import compose_page
from storybench.compose.page import page_rects
from storybench.config import RenderSettings
from storybench.plan import load_plan
from storybench.prompts.panel import panel_render_spec, render_size
from storybench.render.storyboard import StoryboardBackend

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    settings = RenderSettings()
    backend = StoryboardBackend()
    render_ms: list[float] = []
    print(f"{'layout':<16}{'plan':<22}{'panels':>7}{'render ms/panel':>17}{'compose ms/page':>17}")
    for path in sorted((ROOT / "plans").glob("*.json")):
        plan = load_plan(path)
        for _, page in plan.pages():
            images, times = {}, []
            for panel, rect in zip(
                sorted(page.panels, key=lambda p: p.position), page_rects(plan, page, settings), strict=False
            ):
                spec = panel_render_spec(plan, panel, *render_size(rect.width, rect.height, settings.panel_max_side))
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    data = backend.render(spec).image
                    times.append((time.perf_counter() - t) * 1000)
                images[panel.id] = Image.open(io.BytesIO(data))
            compose = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                compose_page(plan, page, images, settings)
                compose.append((time.perf_counter() - t) * 1000)
            render_ms.extend(times)
            print(
                f"{page.layout:<16}{plan.id:<22}{len(page.panels):>7}{statistics.median(times):>17.1f}{statistics.median(compose):>17.1f}"
            )
    print(
        f"storyboard render, median over all panels: {statistics.median(render_ms):.1f} ms (longer side "
        f"{settings.panel_max_side} px)"
    )


if __name__ == "__main__":
    main()
