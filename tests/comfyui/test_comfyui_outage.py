"""ComfyUI restarts and outages during a batch, and several servers as one backend.

The test server (tests/comfy_server.py) is stopped and started again on the same port
with an empty queue and history, like a restarted ComfyUI. A 35-panel plan (7 pages of
the five-panel ``action`` layout) renders with 0.2 s prompts through the batch engine.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path

import pytest
from plan_factory import plan_dict

from storybench.batch import read_catalog, render_plan
from storybench.config import RenderSettings
from storybench.render.comfyui import ComfyUIBackend

try:
    from comfy_server import ComfyTestServer
except ImportError:  # tests/ imported as a package
    from tests.comfy_server import ComfyTestServer

PANELS = 35
SETTINGS = dict(page_width=600, page_height=900, panel_max_side=256, margin=20, gutter=10, backoff_seconds=0.01)
OUTAGE_MESSAGE = re.compile(r"ComfyUI at (\S+) unreachable since \d\d:\d\d:\d\d \((\d+) s\)")


def plan35(plan_id: str = "outage-35") -> dict:
    return plan_dict(("action",) * 7, plan_id=plan_id)


def settings(**kw) -> RenderSettings:
    return RenderSettings(**SETTINGS, **kw)


def backend(urls, **kw) -> ComfyUIBackend:
    kw.setdefault("workflow", "empty_image")
    kw.setdefault("poll_interval", 0.1)
    kw.setdefault("outage_seconds", 300)
    return ComfyUIBackend(url=urls, **kw)


def panel_rows(out: Path, run_id: str):
    catalog = read_catalog(out)
    return catalog[(catalog.run_id == run_id) & (catalog.kind == "panel")]


def restart_after(
    server: ComfyTestServer, started: threading.Event, *, after_prompts: int, down: float
) -> threading.Thread:
    """Kill ``server`` once it started ``after_prompts`` prompts; start it again ``down`` s later."""

    def run() -> None:
        while len(server.exec_starts) < after_prompts:
            time.sleep(0.02)
        server.stop()
        started.set()
        time.sleep(down)
        server.start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def assert_every_panel_once(out: Path, summary, attempts: int = 1) -> None:
    assert summary.status == "completed", summary.errors
    panels = panel_rows(out, summary.run_id)
    assert len(panels) == PANELS and panels.panel_id.is_unique
    assert set(panels.status) == {"completed"}
    assert set(panels.attempts) == {attempts}  # the outage spent no attempt


def first_prompt_gap(server: ComfyTestServer, start_index: int) -> float:
    """Seconds from the server's first answer after start ``start_index`` (1-based) to the
    first ``POST /prompt`` after it."""
    answer = server.first_answers[start_index - 1]
    return min(t for t in server.prompt_times if t >= answer) - answer


def run_with_restarts(tmp_path, downs: list[float]):
    """Render the 35 panels; kill the server after 6 prompts and start it ``downs[0]`` s later,
    then again 6 prompts after it is back for each further entry of ``downs``."""
    with ComfyTestServer(seconds_per_prompt=0.2, history_delay=0.02) as server, backend(server.url) as b:
        result: dict = {}
        engine = threading.Thread(
            target=lambda: result.update(
                summary=render_plan(plan35(), backend=b, output_dir=tmp_path, settings=settings(), progress=False)
            )
        )
        engine.start()
        done_prompts = 6
        for down in downs:
            killed = threading.Event()
            restart_after(server, killed, after_prompts=done_prompts, down=down).join()
            done_prompts = len(server.exec_starts) + 6
        engine.join(timeout=600)
    return server, result["summary"]


def test_a_20_s_restart_mid_batch_completes_every_panel_once_without_spending_attempts(tmp_path):
    server, summary = run_with_restarts(tmp_path, [20.0])
    assert_every_panel_once(tmp_path, summary)
    assert server.starts == 2
    assert first_prompt_gap(server, 2) <= 2.0  # resubmitted within 2 s of the server's first answer
    # the restarted server forgot the prompts it had: they were submitted again, each panel saved once
    assert server.prompt_posts > PANELS
    assert not server.history  # every finished prompt's /history entry was deleted


@pytest.mark.slow
def test_restarts_of_20_s_and_90_s_in_one_batch_complete_every_panel_once(tmp_path):
    server, summary = run_with_restarts(tmp_path, [20.0, 90.0])
    assert_every_panel_once(tmp_path, summary)
    assert server.starts == 3
    assert first_prompt_gap(server, 2) <= 2.0 and first_prompt_gap(server, 3) <= 2.0
    print(summary)


def test_restart_hidden_behind_a_websocket_reconnect_loses_no_panel(tmp_path):
    with (
        ComfyTestServer(seconds_per_prompt=0.2, history_delay=0.02) as server,
        backend(server.url, probe_interval=0.2) as b,
    ):
        result: dict = {}
        engine = threading.Thread(
            target=lambda: result.update(
                summary=render_plan(plan35(), backend=b, output_dir=tmp_path, settings=settings(), progress=False)
            )
        )
        engine.start()
        while len(server.exec_starts) < 5:
            time.sleep(0.02)
        server.restart(0.0)  # back before the client noticed: only the websocket reconnect shows it
        engine.join(timeout=120)
        reconnects = b.client.reconnects
    summary = result["summary"]
    assert_every_panel_once(tmp_path, summary)
    assert reconnects >= 1
    assert server.prompt_posts > PANELS  # the prompts the restarted server forgot were submitted again


def test_outage_past_the_budget_fails_with_one_message_and_the_rerun_resumes(tmp_path):
    events = []
    with ComfyTestServer(seconds_per_prompt=0.1, history_delay=0.02) as server:
        url = server.url
        with backend(url, outage_seconds=2.0, probe_interval=0.2) as b:
            killed = threading.Event()
            restart_after(server, killed, after_prompts=8, down=3600)  # never back in this run
            t0 = time.monotonic()
            first = render_plan(
                plan35(), backend=b, output_dir=tmp_path, settings=settings(), progress=False, on_event=events.append
            )
            assert time.monotonic() - t0 < 60
        assert first.status == "failed"
        outage = [e for e in first.errors if OUTAGE_MESSAGE.search(e)]
        assert len(outage) == 1 and len(first.errors) == 1, first.errors
        match = OUTAGE_MESSAGE.search(outage[0])
        assert match and match.group(1) == url and int(match.group(2)) >= 2
        waiting = [e.message for e in events if e.type == "backend_status" and e.message]
        assert waiting and waiting[0].startswith(f"waiting for ComfyUI at {url} (down ")
        panels = panel_rows(tmp_path, first.run_id)
        assert set(panels.attempts[panels.status == "failed"]) <= {1}  # failed by the outage, not by retries
        rendered = int((panels.status == "completed").sum())
        assert 0 < rendered < PANELS

        server.start()
        with backend(url) as b:
            second = render_plan(plan35(), backend=b, output_dir=tmp_path, settings=settings(), progress=False)
    assert second.resumed and second.run_id == first.run_id
    assert second.status == "completed", second.errors
    assert second.counts.panels_cached == rendered and second.counts.panels_rendered == PANELS - rendered
    assert set(panel_rows(tmp_path, second.run_id).status) == {"completed"}


def test_two_servers_render_as_one_backend_and_survive_losing_one(tmp_path):
    with (
        ComfyTestServer(seconds_per_prompt=0.1, history_delay=0.02) as a,
        ComfyTestServer(seconds_per_prompt=0.1, history_delay=0.02) as b,
    ):
        with backend([a.url, b.url], probe_interval=0.2) as be:
            assert be.default_concurrency == 4
            killed = threading.Event()
            restart_after(b, killed, after_prompts=6, down=3600)  # b dies for good mid-run
            summary = render_plan(plan35(), backend=be, output_dir=tmp_path, settings=settings(), progress=False)
        b_ran = len(b.executed_ids)
    assert_every_panel_once(tmp_path, summary)
    panels = panel_rows(tmp_path, summary.run_id)
    assert set(panels.server) == {a.url, b.url}
    assert summary.servers[a.url] + summary.servers.get(b.url, 0) == PANELS
    assert summary.servers[a.url] > summary.servers[b.url] >= 1 and b_ran >= 1
    text = str(summary)
    assert "servers: " in text and f"{a.url} {summary.servers[a.url]} panel(s)" in text


def test_two_servers_share_the_work_and_a_returning_server_gets_work_again(tmp_path):
    with (
        ComfyTestServer(seconds_per_prompt=0.1, history_delay=0.02) as a,
        ComfyTestServer(seconds_per_prompt=0.1, history_delay=0.02) as b,
    ):
        with backend(f"{a.url}, {b.url}", probe_interval=0.2) as be:
            killed = threading.Event()
            restart_after(b, killed, after_prompts=3, down=1.0)
            summary = render_plan(plan35(), backend=be, output_dir=tmp_path, settings=settings(), progress=False)
        assert b.starts == 2
        # b ran prompts after it came back
        assert any(t >= b.first_answers[1] for _, t in b.exec_starts)
    assert_every_panel_once(tmp_path, summary)
    assert summary.servers[a.url] >= 10 and summary.servers[b.url] >= 5


def test_a_server_lacking_the_checkpoint_is_left_out_with_one_warning(tmp_path, caplog):
    plan = plan_dict(("grid-2x2",), plan_id="left-out")
    with (
        ComfyTestServer(seconds_per_prompt=0.02) as good,
        ComfyTestServer(seconds_per_prompt=0.02, checkpoints=("dreamshaper_8.safetensors",)) as bad,
    ):
        with (
            caplog.at_level(logging.WARNING, logger="storybench.comfyui"),
            backend([good.url, bad.url], workflow="sd15_txt2img") as be,
        ):
            summary = render_plan(plan, backend=be, output_dir=tmp_path, settings=settings(), progress=False)
        assert bad.prompt_posts == 0 and good.prompt_posts == 4
    assert summary.status == "completed", summary.errors
    warnings = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(warnings) == 1
    assert bad.url in warnings[0] and "v1-5-pruned-emaonly.safetensors" in warnings[0]
    assert summary.servers == {good.url: 4}


def test_missing_checkpoint_everywhere_is_reported_once_and_sends_no_prompt(tmp_path):
    plan = plan_dict(("grid-2x2",) * 3, plan_id="no-checkpoint")
    with (
        ComfyTestServer(checkpoints=("dreamshaper_8.safetensors",)) as a,
        ComfyTestServer(checkpoints=("dreamshaper_8.safetensors",)) as b,
    ):
        with backend([a.url, b.url], workflow="sd15_txt2img") as be:
            summary = render_plan(plan, backend=be, output_dir=tmp_path, settings=settings(), progress=False)
        assert a.prompt_posts == b.prompt_posts == 0
    assert summary.status == "failed" and summary.counts.panels_failed == 12
    text = str(summary)
    assert text.count("no ComfyUI server can run this batch") == 1
    assert text.count("checkpoint v1-5-pruned-emaonly.safetensors") == 2  # one line per server, once
    assert len(summary.errors) == 1 and "preflight failed" in summary.errors[0]


def test_queue_seconds_is_the_servers_and_the_engines_wait_has_its_own_column(tmp_path):
    plan = plan_dict(("grid-2x2",), plan_id="timing-columns")
    with ComfyTestServer(seconds_per_prompt=0.05) as server, backend(server.url) as b:
        first = render_plan(plan, backend=b, output_dir=tmp_path, settings=settings(), progress=False)
        second = render_plan(plan, backend=b, output_dir=tmp_path, settings=settings(force=False), progress=False)
    rendered = panel_rows(tmp_path, first.run_id)
    assert rendered.queue_seconds.notna().all() and rendered.wait_seconds.notna().all()
    assert set(rendered.server) == {server.url}
    for row in rendered.itertuples():
        assert row.queue_seconds == pytest.approx(json.loads(row.metrics)["queue_seconds"])
    hits = [r for r in second.rows if r["kind"] == "panel"]
    assert all(r["cache_hit"] and r["queue_seconds"] is None and r["wait_seconds"] is not None for r in hits)


def test_resume_key_includes_the_workflow(tmp_path):
    plan = plan_dict(("grid-2x2",), plan_id="resume-key")
    workflows = tmp_path / "wf"
    workflows.mkdir()
    source = Path(__file__).resolve().parents[2] / "workflows"
    data = json.loads((source / "empty_image.json").read_text())
    data["2"]["inputs"]["filename_prefix"] = "storybench/other"
    (workflows / "other_empty.json").write_text(json.dumps(data))
    (workflows / "other_empty.slots.json").write_text((source / "empty_image.slots.json").read_text())
    with ComfyTestServer(seconds_per_prompt=0.02) as server:
        url = server.url
    # the server is gone: every run fails at preflight and stays resumable
    with backend(url, outage_seconds=0.2, probe_interval=0.05) as b:
        failed = render_plan(plan, backend=b, output_dir=tmp_path / "out", settings=settings(), progress=False)
    assert failed.status == "failed"
    with backend(url, outage_seconds=0.2, probe_interval=0.05) as b:
        same = render_plan(plan, backend=b, output_dir=tmp_path / "out", settings=settings(), progress=False)
    with backend(url, workflow=workflows / "other_empty.json", outage_seconds=0.2, probe_interval=0.05) as b:
        other = render_plan(plan, backend=b, output_dir=tmp_path / "out", settings=settings(), progress=False)
    assert same.run_id == failed.run_id and same.resumed
    assert other.run_id != failed.run_id and not other.resumed
    assert any("preflight failed" in e and "cannot connect" in e for e in other.errors), other.errors


def test_comma_separated_environment_url_makes_a_pool(monkeypatch):
    monkeypatch.setenv("STORYBENCH_COMFYUI_URL", "http://127.0.0.1:1/, http://127.0.0.1:2")
    b = ComfyUIBackend(workflow="empty_image")
    try:
        assert b.urls == ["http://127.0.0.1:1", "http://127.0.0.1:2"] and b.default_concurrency == 4
        assert b.run_identity()["urls"] == b.urls
    finally:
        b.close()
