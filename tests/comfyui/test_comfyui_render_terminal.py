"""What `storybench render` itself prints while ComfyUI goes away for 20 s and comes back.

The CLI runs the batch notebook in a Jupyter kernel (papermill); the engine's progress
events and the backend's outage warnings reach the terminal through the run's progress
feed (storybench.batch.progress_feed → storybench.cli_progress). The test drives the
real command in a subprocess against the test ComfyUI server and stops that server for
20 s mid-run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from plan_factory import plan_dict

try:
    from comfy_server import ComfyTestServer
except ImportError:  # tests/ imported as a package
    from tests.comfy_server import ComfyTestServer

SMALL_PAGES = ["-p", "page_width", "600", "-p", "page_height", "900", "-p", "panel_max_side", "256"]
CAPTURE = os.environ.get("STORYBENCH_TERMINAL_CAPTURE")  # where to keep the terminal text, if set


def render_command(plan: Path, out: Path, url: str) -> list[str]:
    options = {"url": url, "workflow": "empty_image", "poll_interval": 0.1, "probe_interval": 0.5}
    return [
        sys.executable,
        "-m",
        "storybench",
        "render",
        str(plan),
        "--backend",
        "comfyui",
        "--output-dir",
        str(out),
        "-p",
        "backend_options",
        json.dumps(options),
        "-p",
        "exports",
        '["pdf"]',
        *SMALL_PAGES,
    ]


def test_the_terminal_shows_each_panel_the_outage_and_the_summary_while_comfyui_is_down_20_s(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_dict(("action",) * 2, plan_id="terminal-10")), encoding="utf-8")
    with ComfyTestServer(seconds_per_prompt=0.4, history_delay=0.02) as server:
        lines: list[tuple[float, str]] = []
        proc = subprocess.Popen(
            render_command(plan, tmp_path / "out", server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append((time.monotonic(), line.rstrip("\n")))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 240
        while len(server.exec_starts) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()
        stopped = time.monotonic()
        time.sleep(20)
        printed_while_down = [text for t, text in lines if stopped <= t]  # read before the restart
        server.start()
        code = proc.wait(timeout=240)
        reader.join(timeout=10)
    text = "\n".join(line for _, line in lines)
    if CAPTURE:
        Path(CAPTURE).write_text(text + "\n", encoding="utf-8")
    assert code == 0, text
    # one line per finished job, as it happens
    assert re.search(r"^\[ ?\d+/\d+\] panel \S+: rendered$", text, re.M), text
    assert re.search(r"^\[ ?\d+/\d+\] page \S+: composed$", text, re.M), text
    assert re.search(r"^\[ ?\d+/\d+\] pdf \S+: exported$", text, re.M), text
    # the outage, while it lasts, and the server's return
    assert any(line.startswith(f"waiting for ComfyUI at {server.url}") for line in printed_while_down), text
    assert re.search(rf"^ComfyUI at {re.escape(server.url)} answers again after (1\d|2\d) s$", text, re.M), text
    # the summary
    assert "panels: 10 rendered, 0 cache hits, 0 failed" in text
    assert "servers not answering" not in text  # it came back
    assert "Executing:" not in text  # papermill's cell bar is not what the terminal shows
