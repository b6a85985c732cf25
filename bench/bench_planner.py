"""Benchmark plan_comic: wall time per plan and validity, on a chosen LLM backend.

Usage::

    python bench/bench_planner.py                      # llamacpp, max_pages 1, 3, 12, then 10 seeds at 3 pages
    python bench/bench_planner.py --backend ollama --runs 5 --seed-pages 5
    python bench/bench_planner.py --backend scripted   # the test fake (needs tests/ on sys.path)

Prints one line per run (wall seconds, chapters, pages, panels, repairs, valid)
and a summary; exits 1 if any plan was invalid.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storybench.llm.base import get_llm_backend  # noqa: E402
from storybench.plan import plan_issues  # noqa: E402
from storybench.planner import plan_comic  # noqa: E402

PROMPT = "A retired detective and her nervous informant hunt a clockmaker's killer in rainy 1947 Kyiv"


def one_run(llm, label: str, max_pages: int, seed: int, args) -> dict:
    start = time.perf_counter()
    try:
        result = plan_comic(
            args.prompt,
            style=args.style,
            max_pages=max_pages,
            language=args.language,
            llm=llm,
            seed=seed,
            progress=False,
            max_tokens_scale=args.max_tokens_scale,
        )
    except Exception as exc:
        wall = time.perf_counter() - start
        print(f"{label:<14} max_pages={max_pages:<2} seed={seed:<6} wall={wall:7.2f}s  FAILED: {exc}")
        return {"wall": wall, "valid": False}
    wall = time.perf_counter() - start
    plan = result.plan
    issues = plan_issues(plan)
    valid = not issues
    print(
        f"{label:<14} max_pages={max_pages:<2} seed={seed:<6} wall={wall:7.2f}s  chapters={len(plan.chapters)} "
        f"pages={plan.page_count():<2} panels={plan.panel_count():<3} requests={result.requests:<3} "
        f"repairs={len(result.repairs):<3} valid={valid}"
    )
    if args.verbose:
        for note in result.repairs:
            print(f"    repaired: {note}")
    for issue in issues:
        print(f"    ISSUE: {issue}")
    return {"wall": wall, "valid": valid}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="llamacpp", help="LLM backend name (default: llamacpp)")
    p.add_argument("--pages", default="1,3,12", help="max_pages values of the size runs (default: 1,3,12)")
    p.add_argument("--runs", type=int, default=10, help="seeded runs (default: 10)")
    p.add_argument("--seed-pages", type=int, default=3, help="max_pages of the seeded runs (default: 3)")
    p.add_argument("--prompt", default=PROMPT)
    p.add_argument("--style", default="noir")
    p.add_argument("--language", default="en")
    p.add_argument("--max-tokens-scale", type=float, default=1.0)
    p.add_argument("--verbose", "-v", action="store_true", help="print every repair")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = p.parse_args(argv)
    if args.smoke:
        args.backend, args.pages, args.runs = "scripted-planner", "1", 1

    if args.backend == "scripted-planner":
        sys.path.insert(0, str(ROOT / "tests"))
        import scripted_llm  # noqa: F401  (registers "scripted-planner")

    t0 = time.perf_counter()
    llm = get_llm_backend(args.backend)
    print(f"backend={args.backend} model={getattr(llm, 'model', None)} created in {time.perf_counter() - t0:.2f}s")

    rows = []
    print("-- size runs --")
    for max_pages in (int(x) for x in args.pages.split(",") if x.strip()):
        rows.append(one_run(llm, "size", max_pages, 1, args))
    print(f"-- {args.runs} seeded runs at max_pages={args.seed_pages} --")
    seeded = [one_run(llm, f"seed-run {i + 1}", args.seed_pages, 1000 + i, args) for i in range(args.runs)]
    rows += seeded

    walls = [r["wall"] for r in seeded] or [0.0]
    valid = sum(r["valid"] for r in rows)
    print(
        f"summary: {valid}/{len(rows)} valid; seeded runs wall mean={statistics.mean(walls):.2f}s "
        f"median={statistics.median(walls):.2f}s max={max(walls):.2f}s"
    )
    llm.close()
    return 0 if valid == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
