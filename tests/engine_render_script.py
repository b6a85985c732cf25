"""Render a test plan in a child process (used by the crash and concurrency tests).

Usage: python engine_render_script.py OUTPUT_DIR PLAN_ID DELAY_SECONDS [CONCURRENCY]
Prints the summary as JSON on the last line; exits with the summary's exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_support import FakeBackend, SimpleComposer, make_plan, small_settings

from storybench.batch import render_plan


def main() -> int:
    out, plan_id, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    plan = make_plan(plan_id=plan_id, layouts=("grid-2x2", "three-rows", "action", "single"))
    summary = render_plan(
        plan,
        backend=FakeBackend(delay=delay),
        output_dir=out,
        settings=small_settings(concurrency=concurrency),
        composer=SimpleComposer().composer(),
        progress=False,
    )
    print(json.dumps(summary.to_dict()), flush=True)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
