"""Scale-out bench: RunPodBackend against a local endpoint with W simulated workers.

Renders 20 panels with a thread pool of size W (as the batch engine would with
``concurrency`` = W) and prints the speed-up over W = 1. Target: speed-up ≥ 0.9·W
(at most panels / ceil(panels / W) is possible: 6.67 for 20 panels on 8 workers).

    PYTHONPATH=$PWD /work/venv/bin/python bench/bench_runpod.py [--panels 20] [--job-seconds 0.2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from runpod_server import RunPodSim, empty_image_builder  # noqa: E402

from storybench.render.runpod import RunPodBackend  # noqa: E402
from storybench.render.spec import RenderSpec  # noqa: E402


def _serve(workers: int, job_seconds: float, conn: Any) -> None:
    """Child process: run the simulated endpoint until the parent says stop."""
    with RunPodSim(workers=workers, job_seconds=job_seconds, api_key="bench-key") as sim:
        conn.send((sim.root, sim.endpoint_id))
        conn.recv()


def run(workers: int, panels: int, job_seconds: float, args_poll: float = 0.02) -> tuple[float, int, float]:
    # The endpoint runs in its own process, as a real one would: its threads do not
    # compete with the client's for this interpreter's GIL.
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(workers, job_seconds, child), daemon=True)
    proc.start()
    try:
        root, endpoint_id = parent.recv()
        os.environ.update(RUNPOD_API_KEY="bench-key", RUNPOD_ENDPOINT_ID=endpoint_id, STORYBENCH_RUNPOD_BASE_URL=root)
        with RunPodBackend(
            workflow_builder=empty_image_builder,
            max_in_flight=workers,
            poll_interval=args_poll,
            max_poll_interval=args_poll * 2.5,
        ) as be:
            concurrency = be.preflight([])["concurrency"]  # = W (max_in_flight), as the engine would use
            specs = [
                RenderSpec(prompt=f"panel {i}", seed=i, width=256, height=256, panel_id=f"p{i}") for i in range(panels)
            ]
            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(be.render, specs))
            elapsed = time.perf_counter() - start
    finally:
        parent.send("stop")
        proc.join(10)
    assert len(results) == panels
    mean_delay = sum(r.metrics["delay_time_ms"] for r in results) / panels
    return elapsed, concurrency, mean_delay


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 40 panels: a multiple of every W, so W workers can reach W× (20 panels on 8 workers take 3 rounds: at most 6.67×)
    ap.add_argument("--panels", type=int, default=40)
    ap.add_argument("--job-seconds", type=float, default=0.2)
    ap.add_argument("--poll", type=float, default=0.02, help="first /status poll interval, seconds")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = ap.parse_args()
    if args.smoke:
        args.panels, args.job_seconds, args.workers = 4, 0.05, [1, 2]
    print(f"{args.panels} panels, {args.job_seconds:.2f} s per job; speed-up is over W = {args.workers[0]}")
    print("best = panels / ceil(panels / W): the most W workers can do when each job takes the same time")
    print(
        f"{'W':>3} {'threads':>7} {'seconds':>8} {'panels/s':>9} {'speed-up':>9} {'0.9*W':>6} {'best':>6} "
        f"{'vs best':>8} {'mean delay ms':>14}"
    )
    base = None
    for w in args.workers:
        elapsed, threads, delay = run(w, args.panels, args.job_seconds, args.poll)
        base = base if base is not None else elapsed * args.workers[0]
        speedup = base / elapsed
        best = args.panels / -(-args.panels // w)
        verdict = "ok" if speedup >= 0.9 * w else ("ok vs best" if speedup >= 0.9 * best else "LOW")
        print(
            f"{w:>3} {threads:>7} {elapsed:>8.3f} {args.panels / elapsed:>9.2f} {speedup:>9.2f} {0.9 * w:>6.1f} "
            f"{best:>6.2f} {speedup / best:>8.0%} {delay:>14.0f}  {verdict}"
        )


if __name__ == "__main__":
    main()
