"""Pipelining benchmark of the ComfyUI backend.

Without STORYBENCH_COMFYUI_URL: starts the test server (tests/comfy_server.py) with a
fixed 0.5 s per prompt (one prompt at a time, like a GPU), renders 20 panels through
the backend from K=2 threads (as the batch engine does) and prints the wall time, the
preflight time and ratio = wall / (20 x 0.5 s); target <= 1.02.

With STORYBENCH_COMFYUI_URL set: the real server with the weight-free empty_image
workflow; ratio = wall / sum of server execution time (execution_start ->
execution_success timestamps in /history status.messages).

Usage: PYTHONPATH=. python bench/bench_comfyui.py [--panels 20] [--k 2] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from storybench.render.comfyui import ComfyUIBackend  # noqa: E402
from storybench.render.comfyui.prompt import history_seconds  # noqa: E402
from storybench.render.spec import RenderSpec  # noqa: E402


def run(url: str, panels: int, k: int, seed_base: int, size: tuple[int, int]) -> tuple[float, float, list]:
    specs = [
        RenderSpec(prompt=f"bench panel {i}", seed=seed_base + i, width=size[0], height=size[1], panel_id=f"b{i}")
        for i in range(panels)
    ]
    # keep /history entries: the live ratio reads the server's own execution times from them
    with ComfyUIBackend(url=url, workflow="empty_image", queue_depth=k, delete_history=False) as backend:
        t0 = time.perf_counter()
        backend.preflight(specs)
        preflight = time.perf_counter() - t0
        t1 = time.perf_counter()
        with ThreadPoolExecutor(backend.default_concurrency) as pool:
            results = list(pool.map(backend.render, specs))
        wall = time.perf_counter() - t1
        histories = [backend.client.history(r.metrics["prompt_id"]) for r in results]
    return wall, preflight, list(zip(results, histories, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", type=int, default=20)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5, help="test server seconds per prompt")
    ap.add_argument(
        "--size",
        default="",
        help="panel WIDTHxHEIGHT in pixels (default 256x384; live: 1536x2048 so "
        "that a prompt's execution is not dwarfed by per-prompt overhead)",
    )
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = ap.parse_args()
    if args.smoke:
        args.panels, args.seconds = 4, 0.05
    live = os.environ.get("STORYBENCH_COMFYUI_URL")
    text = args.size or ("1536x2048" if live else "256x384")
    size = tuple(int(v) for v in text.lower().split("x"))
    if live:
        # seeds change per run so the server's cache does not serve the panels
        wall, preflight, done = run(live, args.panels, args.k, seed_base=int(time.time()) % 100000, size=size)
        server_seconds = sum(history_seconds(h) or 0.0 for _, h in done)
        print(f"server            {live} (live, empty_image workflow)")
        print(f"panels            {args.panels}  K={args.k}  {size[0]}x{size[1]} px")
        print(f"preflight         {preflight:.3f} s")
        print(f"wall              {wall:.3f} s")
        print(f"sum server exec   {server_seconds:.3f} s (history status.messages)")
        print(f"ratio             {wall / server_seconds:.3f}" if server_seconds else "ratio             n/a")
        return
    from comfy_server import ComfyTestServer

    with ComfyTestServer(seconds_per_prompt=args.seconds, history_delay=0.05) as server:
        wall, preflight, done = run(server.url, args.panels, args.k, seed_base=1, size=size)
        ideal = args.panels * args.seconds
        queue = [r.metrics["queue_seconds"] for r, _ in done]
        print(f"server            test server, {args.seconds} s per prompt, one at a time")
        print(f"panels            {args.panels}  K={args.k}  (max queued on server: {server.max_depth})")
        print(f"preflight         {preflight:.3f} s")
        print(f"wall              {wall:.3f} s  (ideal {ideal:.2f} s)")
        print(f"mean queue        {sum(queue) / len(queue):.3f} s per panel")
        print(f"ratio             {wall / ideal:.4f}  (target <= 1.02)")


if __name__ == "__main__":
    main()
