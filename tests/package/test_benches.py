"""Every bench in bench/ runs with ``--smoke`` (tiny sizes, seconds), so none can rot unseen.

The benches measure; these runs only prove each one still runs to its end and prints its
result lines. The numbers themselves are read by people (``python bench/NAME.py``), not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))

#: A line each bench prints only when it reached its end (its result).
LAST_WORDS = {
    "bench_candidates.py": "score_ms_per_candidate=",
    "bench_context.py": "semantic_recall_at_5=",
    "bench_catalog.py": "catalog_append_ratio_1000_vs_10=",
    "bench_click.py": "click_vs_warm_start_ratio=",
    "bench_comfyui.py": "ratio",
    "bench_compose.py": "storyboard render, median over all panels",
    "bench_engine.py": "cached/panel ms",
    "bench_fuzz.py": "cases",
    "bench_llm.py": "structured (JSON Schema grammar)",
    "bench_outage.py": "pool_speedup_2=",
    "bench_planner.py": "summary:",
    "bench_prefetch.py": "cold_click_to_text_ms=",
    "bench_runpod.py": "panels/s",
    "publish_demo.py": "[grep] token searched",
}


def test_every_bench_is_listed() -> None:
    """A new bench gets a line in LAST_WORDS (what it prints at its end), so it is smoke-run here."""
    assert set(BENCHES) <= set(LAST_WORDS), set(BENCHES) - set(LAST_WORDS)


@pytest.mark.slow
@pytest.mark.parametrize("name", [b for b in BENCHES if b in LAST_WORDS])
def test_bench_runs_with_smoke(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), "--smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (
        f"{name} --smoke exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    assert LAST_WORDS[name] in proc.stdout, proc.stdout[-3000:]
