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


def render_command(plan: Path, out: Path, url: str, **overrides: object) -> list[str]:
    options = {"url": url, "workflow": "empty_image", "poll_interval": 0.1, "probe_interval": 0.5, **overrides}
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


def run_cli(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_server_that_dies_for_good_is_named_as_its_prompts_move_and_in_the_summary(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_dict(("action",) * 2, plan_id="two-servers")), encoding="utf-8")
    with (
        ComfyTestServer(seconds_per_prompt=0.3, history_delay=0.02) as survivor,
        ComfyTestServer(seconds_per_prompt=0.3, history_delay=0.02) as doomed,
    ):
        urls = f"{survivor.url},{doomed.url}"

        def kill() -> None:
            deadline = time.monotonic() + 240
            while not doomed.exec_starts and time.monotonic() < deadline:
                time.sleep(0.02)
            doomed.stop()

        killer = threading.Thread(target=kill, daemon=True)
        killer.start()
        proc = run_cli(render_command(plan, tmp_path / "out", urls))
        killer.join(timeout=10)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"ComfyUI at {doomed.url} stopped answering (" in out
    assert "its prompts move to the other servers" in out
    assert "panels: 10 rendered, 0 cache hits, 0 failed" in out
    assert out.splitlines().index(
        f"servers not answering (or left out) at the end: {doomed.url}"
    ) > out.splitlines().index("panels: 10 rendered, 0 cache hits, 0 failed")


def test_a_failed_render_ends_with_its_first_error_which_the_summary_above_lists(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_dict(("action",), plan_id="no-checkpoint")), encoding="utf-8")
    with ComfyTestServer() as server:
        command = render_command(plan, tmp_path / "out", server.url, workflow="sd15_txt2img")
        proc = run_cli([*command, "-p", "render_params", '{"checkpoint": "missing-model.safetensors"}'])
        assert server.prompt_posts == 0  # preflight stopped it before any prompt
    assert proc.returncode == 1
    summary = proc.stdout[proc.stdout.index("panels: 0 rendered") :]
    assert "  failed " in summary and "checkpoint missing-model.safetensors is not installed" in summary
    last = proc.stderr.strip().splitlines()
    assert last[0].startswith("render failed: RuntimeError: render ") and " ended failed: 1 error(s)" in last[0]
    assert "every one in the run summary above (first: " in last[0] and "preflight failed" in last[0]
    assert "…' (" not in last[0]  # short enough to be printed whole
    assert "see the table above" not in proc.stderr
