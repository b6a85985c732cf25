"""Outage and multi-server benchmark of the ComfyUI backend (against tests/comfy_server.py).

1. Idle gap after a restart: renders ``--panels`` panels (``--seconds`` per prompt, K=2)
   while the test server is killed after a few prompts and started again ``--down``
   seconds later on the same port (empty queue and history, like a restarted ComfyUI).
   idle gap = seconds from the server's first answer after the restart to the next
   prompt's ``execution_start``; target <= 2 s.
2. Pool throughput: the same panels on one test server, then on two of equal speed as
   one backend (``url=[a, b]``, K=2 each); pool_speedup_2 = wall(1) / wall(2); target >= 1.8.

Prints the measurements, then two last lines exactly ``idle_gap_s=<x.xx>`` and
``pool_speedup_2=<x.xx>``.

Usage: PYTHONPATH=. python bench/bench_outage.py [--panels 30] [--seconds 0.2] [--down 5]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from comfy_server import ComfyTestServer  # noqa: E402

from storybench.render.comfyui import ComfyUIBackend  # noqa: E402
from storybench.render.spec import RenderSpec  # noqa: E402


def specs(n: int, seed_base: int) -> list[RenderSpec]:
    return [
        RenderSpec(prompt=f"bench panel {i}", seed=seed_base + i, width=128, height=192, panel_id=f"b{i}")
        for i in range(n)
    ]


def render_all(backend: ComfyUIBackend, items: list[RenderSpec]) -> float:
    """Render ``items`` from the backend's default concurrency (as the engine does); wall seconds."""
    backend.preflight(items)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(backend.default_concurrency) as pool:
        results = list(pool.map(backend.render, items))
    assert len(results) == len(items)
    return time.perf_counter() - t0


def idle_gap(panels: int, seconds: float, down: float) -> tuple[float, float, int, float]:
    """``(idle gap, wall, prompts posted, listening → first answer)`` of a render through one restart."""
    with ComfyTestServer(seconds_per_prompt=seconds, history_delay=0.02) as server:

        def restart() -> None:
            while len(server.exec_starts) < 4:
                time.sleep(0.01)
            server.stop()
            time.sleep(down)
            server.start()

        killer = threading.Thread(target=restart, daemon=True)
        killer.start()
        with ComfyUIBackend(url=server.url, workflow="empty_image", queue_depth=2, poll_interval=0.1) as backend:
            wall = render_all(backend, specs(panels, seed_base=1000))
        killer.join()
        back = server.first_answers[1]
        first_start = min(t for _, t in server.exec_starts if t >= back)
        return first_start - back, wall, server.prompt_posts, back - server.listening[1]


def pool_wall(n_servers: int, panels: int, seconds: float) -> float:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(ComfyTestServer(seconds_per_prompt=seconds, history_delay=0.02))
            for _ in range(n_servers)
        ]
        urls = [s.url for s in servers]
        with ComfyUIBackend(url=urls, workflow="empty_image", queue_depth=2, poll_interval=0.1) as backend:
            wall = render_all(backend, specs(panels, seed_base=5000 + n_servers * 1000))
        counts = [len(s.executed_ids) for s in servers]
    print(f"  {n_servers} server(s): {panels} panels in {wall:.2f} s; prompts per server {counts}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=0.2, help="test server seconds per prompt")
    ap.add_argument("--down", type=float, default=5.0, help="seconds the server stays down")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = ap.parse_args()
    if args.smoke:
        args.panels, args.seconds, args.down = 6, 0.05, 1.0

    gap, wall, posted, noticed = idle_gap(args.panels, args.seconds, args.down)
    print(f"restart           server down {args.down:g} s after 4 prompts; {args.panels} panels, {args.seconds} s each")
    ideal = args.panels * args.seconds + args.down
    print(f"  wall            {wall:.2f} s (ideal {ideal:.2f} s); prompts posted {posted}")
    print(f"  noticed         {noticed:.3f} s from the server listening again to its first answer (a probe)")
    print(f"  idle gap        {gap:.3f} s from the server's first answer to the next execution_start (target <= 2)")
    print("pool throughput")
    one = pool_wall(1, args.panels, args.seconds)
    two = pool_wall(2, args.panels, args.seconds)
    speedup = one / two
    print(f"  speedup         {speedup:.3f} (target >= 1.8)")
    print(f"idle_gap_s={gap:.2f}")
    print(f"pool_speedup_2={speedup:.2f}")


if __name__ == "__main__":
    main()
