"""Batch engine overhead per panel against a backend that sleeps a fixed time.

overhead per panel = (wall - N * sleep / concurrency) / N, for concurrency 1 and 4,
with catalog writes, cache, run folder, page composition (a trivial composer) and
PDF/CBZ included. Also times a second, all-cache-hit run.

Usage: PYTHONPATH=. python bench/bench_engine.py [--panels 48] [--sleep 0.05]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import zipfile

from PIL import Image

from storybench.batch import Composer, read_catalog, render_plan
from storybench.config import RenderSettings
from storybench.files import atomic_write_bytes
from storybench.plan import parse_plan
from storybench.render.base import ImageBackend
from storybench.render.spec import RenderResult


def tiny_png(color: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (color % 256, 40, 90)).save(out, format="PNG")
    return out.getvalue()


class SleepingBackend(ImageBackend):
    name = "sleeping"
    version = "1"

    def __init__(self, sleep: float) -> None:
        self.sleep = sleep

    def render(self, spec):
        time.sleep(self.sleep)
        return RenderResult(image=tiny_png(spec.seed + len(spec.prompt)), width=16, height=16)


def trivial_composer() -> Composer:
    def compose_page(plan, page, panel_images, settings):
        return Image.new("RGB", (64, 96), "white")

    def save_page_png(image, path, *, dpi):
        out = io.BytesIO()
        image.save(out, format="PNG")
        return atomic_write_bytes(path, out.getvalue())

    def export_pdf(page_paths, path, *, dpi, title, language, **options):
        return atomic_write_bytes(path, b"%PDF-1.4\n% " + b" ".join(str(p).encode() for p in page_paths))

    def export_cbz(page_paths, path, *, plan, **options):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for p in page_paths:
                zf.write(p, p.name)
        return atomic_write_bytes(path, out.getvalue())

    return Composer(compose_page, save_page_png, export_pdf, export_cbz, "bench-1")


def plan_with(panels: int, plan_id: str):
    pages, k = [], 0
    while k < panels:
        n = len(pages) + 1
        count = min(4, panels - k)
        layout = {1: "single", 2: "two-horizontal", 3: "three-rows", 4: "grid-2x2"}[count]
        pages.append(
            {
                "id": f"page-{n}",
                "pageNumber": n,
                "layout": layout,
                "panels": [
                    {"id": f"p{n}-{i}", "position": i, "action": f"action {n} {i}"} for i in range(1, count + 1)
                ],
            }
        )
        k += count
    return parse_plan(
        {"id": plan_id, "title": "Bench", "style": "noir", "chapters": [{"id": "c", "title": "C", "pages": pages}]}
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", type=int, default=48, help="panels per run (4 per page, at most 80)")
    ap.add_argument("--sleep", type=float, default=0.05, help="backend sleep per panel, seconds")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = ap.parse_args()
    if args.smoke:
        args.panels, args.sleep = 8, 0.01
    n, sleep = args.panels, args.sleep
    print(f"{n} panels, backend sleeps {sleep * 1000:.0f} ms per panel")
    with tempfile.TemporaryDirectory() as out:  # warm-up: one-time imports (pandas via pyarrow) are not per panel
        t0 = time.perf_counter()
        render_plan(
            plan_with(4, "warm-up"),
            backend=SleepingBackend(0.0),
            output_dir=out,
            settings=RenderSettings(page_width=256, page_height=384, margin=8, gutter=4, panel_max_side=64),
            composer=trivial_composer(),
            progress=False,
        )
        print(f"warm-up run (4 panels, first in process, imports included): {time.perf_counter() - t0:.3f} s")
    print(
        f"{'concurrency':>11} {'wall s':>8} {'ideal s':>8} {'overhead/panel ms':>18} {'cached run s':>13} "
        f"{'cached/panel ms':>16} {'catalog rows':>13}"
    )
    for concurrency in (1, 4):
        with tempfile.TemporaryDirectory() as out:
            plan = plan_with(n, f"bench-c{concurrency}")
            settings = RenderSettings(
                page_width=256, page_height=384, margin=8, gutter=4, panel_max_side=64, concurrency=concurrency
            )
            t0 = time.perf_counter()
            summary = render_plan(
                plan,
                backend=SleepingBackend(sleep),
                output_dir=out,
                settings=settings,
                composer=trivial_composer(),
                progress=False,
            )
            wall = time.perf_counter() - t0
            assert summary.ok and summary.counts.panels_rendered == n, summary
            t1 = time.perf_counter()
            again = render_plan(
                plan,
                backend=SleepingBackend(sleep),
                output_dir=out,
                settings=settings,
                composer=trivial_composer(),
                progress=False,
            )
            cached = time.perf_counter() - t1
            assert again.counts.panels_cached == n
            ideal = n * sleep / concurrency
            rows = len(read_catalog(out))
            print(
                f"{concurrency:>11} {wall:>8.3f} {ideal:>8.3f} {(wall - ideal) / n * 1000:>18.2f} "
                f"{cached:>13.3f} {cached / n * 1000:>16.2f} {rows:>13}"
            )


if __name__ == "__main__":
    main()
