"""The ComfyUI backend end to end: batch engine, CLI notebook and story engine against the
protocol-faithful test server (tests/comfy_server.py, ~30 ms per prompt)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from PIL import Image

from storybench.batch import read_catalog, render_plan
from storybench.config import RenderSettings
from storybench.plan import parse_plan
from storybench.render.comfyui import ComfyUIBackend

try:
    from comfy_server import ComfyTestServer
    from plan_factory import plan_dict
except ImportError:  # tests/ imported as a package
    from tests.comfy_server import ComfyTestServer
    from tests.plan_factory import plan_dict

ROOT = Path(__file__).parents[2]
PAGES = 5
PANELS = PAGES * 4
SETTINGS = dict(page_width=600, page_height=900, panel_max_side=256, margin=20, gutter=10)


@pytest.fixture
def server():
    with ComfyTestServer(seconds_per_prompt=0.03, history_delay=0.02) as srv:
        yield srv


def plan20():
    """5 pages of grid-2x2: 20 panels, two characters talking."""
    return parse_plan(plan_dict(("grid-2x2",) * PAGES, plan_id="comfy-batch"))


def settings(**kw):
    return RenderSettings(**SETTINGS, backoff_seconds=0.01, **kw)


def backend(server, **kw):
    kw.setdefault("workflow", "empty_image")
    kw.setdefault("poll_interval", 0.05)
    return ComfyUIBackend(url=server.url, **kw)


def rows_of(out: Path, run_id: str):
    catalog = read_catalog(out)
    return catalog[catalog.run_id == run_id]


def assert_complete(rows, *, comfy_metrics: bool = True) -> None:
    panels = rows[rows.kind == "panel"]
    pages = rows[rows.kind == "page"]
    assert len(panels) == PANELS and set(panels.status) == {"completed"}
    assert len(pages) == PAGES and set(pages.status) == {"completed"}
    assert sorted(pages.page_number) == list(range(1, PAGES + 1))
    assert panels.queue_seconds.notna().all() and panels.execution_seconds.notna().all()
    assert set(panels.backend) == {"comfyui"}
    if comfy_metrics:  # the numbers are ComfyUI's own (websocket / history), not the engine's fallbacks
        assert set(panels.workflow) == {"empty_image"}
        for text in panels.metrics:
            m = json.loads(text)
            assert m["workflow"] == "empty_image" and m["prompt_id"]
            assert m["queue_seconds"] is not None and m["queue_seconds"] >= 0
            assert m["execution_seconds"] is not None and 0 < m["execution_seconds"] < 5


def test_twenty_panels_render_then_rerun_is_all_cache_hits(server, tmp_path):
    plan = plan20()
    out = tmp_path / "out"
    with backend(server) as b:
        first = render_plan(plan, backend=b, output_dir=out, settings=settings(), progress=False)
    assert first.status == "completed", first.errors
    assert first.counts.panels_rendered == PANELS and first.counts.pages_composed == PAGES
    assert server.prompt_posts == PANELS and len(server.executed_ids) == PANELS
    assert server.free_calls == 0  # ample VRAM, no faults: never freed
    rows = rows_of(out, first.run_id)
    assert_complete(rows)
    # every panel image came from the server, at the size the engine asked for
    panels = rows[rows.kind == "panel"]
    prompt_ids = {json.loads(m)["prompt_id"] for m in panels.metrics}
    assert prompt_ids == set(server.executed_ids)
    for _, row in panels.iterrows():
        with Image.open(out / row.path) as img:
            assert img.size == (row.width, row.height)
            assert max(img.size) <= 256
    assert first.pdf is not None and first.pdf.is_file() and first.cbz is not None and first.cbz.is_file()
    with Image.open(first.pages[0]) as page:
        assert page.size == (600, 900)

    # 5. the same plan again: everything from the cache, nothing reaches the server
    posts, objects = server.prompt_posts, server.object_info_calls
    with backend(server) as b:
        second = render_plan(plan, backend=b, output_dir=out, settings=settings(), progress=False)
    assert second.status == "completed" and second.run_id != first.run_id
    assert server.prompt_posts == posts  # 0 /prompt calls the second time
    assert server.object_info_calls == objects  # no preflight either: nothing to render
    assert second.counts.panels_cached == PANELS and second.counts.panels_rendered == 0
    again = rows_of(out, second.run_id)
    assert set(again[again.kind == "panel"].cache_hit) == {True}
    assert set(again[again.kind == "panel"].sha256) == set(panels.sha256)


class FlakyPrompt(httpx.HTTPTransport):
    """A real transport that answers some ``POST /prompt`` calls with ComfyUI's plain-text 500."""

    def __init__(self, fail_at: set[int]) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.posts = 0
        self.failed = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/prompt"):
            with self._lock:
                self.posts += 1
                fail = self.posts in self.fail_at
            if fail:
                self.failed += 1
                return httpx.Response(
                    500, text="500 Internal Server Error\n\nServer got itself in trouble", request=request
                )
        return super().handle_request(request)


def test_transient_faults_are_retried_and_only_the_oom_frees(server, tmp_path):
    plan = plan20()
    out = tmp_path / "out"
    flaky = FlakyPrompt(fail_at={2, 9})
    server.refuse_ws_seconds = 0.3

    def inject(event):
        # faults land mid-batch, on prompts already queued behind others
        if event.type == "job_finished" and event.done == 4:
            server.drop_ws_next = 1
        if event.type == "job_finished" and event.done == 10:
            server.oom_next = 1

    with backend(server, transport=flaky) as b:
        summary = render_plan(
            plan, backend=b, output_dir=out, settings=settings(retries=3), progress=False, on_event=inject
        )
        drops = b.client.drops
    assert summary.status == "completed", summary.errors
    assert flaky.failed == 2
    assert server.drop_ws_next == 0 and server.oom_next == 0 and drops >= 1  # both faults happened
    assert server.free_calls == 1  # the out-of-memory error, and nothing else
    assert server.free_bodies == [{"unload_models": True, "free_memory": True}]
    rows = rows_of(out, summary.run_id)
    assert_complete(rows)
    panels = rows[rows.kind == "panel"]
    # prompts that finished while the socket was down are timed from the server's /history
    # timestamps (each prompt takes 30 ms on the server), not from when the poll saw them
    from_history = [m for m in map(json.loads, panels.metrics) if m.get("timing_source") == "history"]
    assert from_history
    assert all(0.025 <= m["execution_seconds"] < 1 for m in from_history)
    # 2 rejected submissions + 1 out-of-memory prompt were tried again; the dropped socket cost no attempt
    assert int(panels.attempts.sum()) == PANELS + 3
    assert sorted(panels.attempts[panels.attempts > 1]) == [2, 2, 2]
    # 20 first submissions + 3 retries reached /prompt (the 500s never reached the server)
    assert server.prompt_posts == PANELS + 1 and flaky.posts == PANELS + 3
    assert len(set(server.executed_ids)) == PANELS + 1


def test_missing_checkpoint_fails_before_any_prompt_and_names_it(tmp_path):
    with ComfyTestServer(seconds_per_prompt=0.03, checkpoints=("dreamshaper_8.safetensors",)) as srv:
        with ComfyUIBackend(url=srv.url, workflow="sd15_txt2img") as b:
            summary = render_plan(
                plan20(), backend=b, output_dir=tmp_path, settings=settings(retries=3), progress=False
            )
        assert srv.prompt_posts == 0
    assert summary.status == "failed"
    assert summary.counts.panels_failed == PANELS
    assert summary.errors and all(
        "v1-5-pruned-emaonly.safetensors" in e for e in summary.errors if e.startswith("panel:")
    )
    rows = rows_of(tmp_path, summary.run_id)
    panels = rows[rows.kind == "panel"]
    assert len(panels) == PANELS and set(panels.status) == {"failed"}
    assert all("v1-5-pruned-emaonly.safetensors" in e and "dreamshaper_8.safetensors" in e for e in panels.error)
    assert set(panels.attempts) == {0}  # a preflight failure is not retried
    assert set(rows[rows.kind == "page"].status) == {"failed"}


def test_cli_renders_through_comfyui(server, tmp_path):
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan_dict(("grid-2x2", "grid-2x2"), plan_id="comfy-cli")), encoding="utf-8")
    out = tmp_path / "out"
    options = json.dumps({"url": server.url, "workflow": "empty_image"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "storybench",
            "render",
            str(plan_path),
            "--backend",
            "comfyui",
            "--output-dir",
            str(out),
            "-p",
            "backend_options",
            options,
            "-p",
            "page_width",
            "600",
            "-p",
            "page_height",
            "900",
            "-p",
            "panel_max_side",
            "256",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "panels: 8 rendered, 0 cache hits, 0 failed" in proc.stdout
    run_dir = Path(proc.stdout.split("run folder: ")[1].splitlines()[0])
    nb = json.loads((run_dir / "batch_render.ipynb").read_text(encoding="utf-8"))
    injected = "".join(next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))["source"])
    assert 'backend = "comfyui"' in injected and server.url in injected
    pages = sorted((run_dir / "pages").glob("page-*.png"))
    assert [p.name for p in pages] == ["page-001.png", "page-002.png"]
    for p in pages:
        with Image.open(p) as img:
            assert img.size == (600, 900)
    assert (run_dir / "comfy-cli.pdf").stat().st_size > 0 and (run_dir / "comfy-cli.cbz").stat().st_size > 0
    assert server.prompt_posts == 8
    catalog = read_catalog(out)
    panels = catalog[catalog.kind == "panel"]
    assert len(panels) == 8 and set(panels.backend) == {"comfyui"} and set(panels.status) == {"completed"}
    assert {json.loads(m)["prompt_id"] for m in panels.metrics} == set(server.executed_ids)
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["backend"] == "comfyui" and manifest["status"] == "completed"


def test_story_engine_illustrates_through_comfyui(server, tmp_path):
    # imported here, not at collection time: importing test helpers registers fake backends
    try:
        from story_fakes import ScriptedLLM
    except ImportError:
        from tests.story_fakes import ScriptedLLM
    from storybench.story import StoryEngine, StorySettings

    story_settings = StorySettings(premise="A lighthouse keeper waits for a ship", language="uk", style="noir")
    options = {"url": server.url, "workflow": "empty_image", "poll_interval": 0.05}
    with StoryEngine(
        story_settings,
        llm=ScriptedLLM(),
        image_backend="comfyui",
        image_options=options,
        output_root=tmp_path,
        inline_images=True,
    ) as engine:
        seg = engine.start()
        assert seg.image_status == "done", seg.image_error
        path = engine.image_file(seg.id)
        assert path is not None and path.is_file()
        with Image.open(io.BytesIO(path.read_bytes())) as img:
            assert img.size == (story_settings.image_width, story_settings.image_height)
        assert engine.image_backend.name == "comfyui"
    assert server.prompt_posts == 1 and len(server.executed_ids) == 1
    prompt = server.prompts[server.executed_ids[0]]
    sizes = {(n["inputs"]["width"], n["inputs"]["height"]) for n in prompt.values() if n["class_type"] == "EmptyImage"}
    assert sizes == {(story_settings.image_width, story_settings.image_height)}


def test_prompts_the_socket_missed_are_timed_by_the_server(server):
    """The socket drops right after prompt A's execution_start and stays refused for 0.9 s
    (the client retries at about 0, 0.2, 0.6 and 1.4 s): A finishes while it is down (seen
    by polling /history), B starts while it is down and finishes after it reconnected (the
    socket never says when B started). Both are timed from /history, not from when the
    client happened to notice."""
    from concurrent.futures import ThreadPoolExecutor

    from storybench.render.spec import RenderSpec

    server.seconds_per_prompt = 1.0
    server.drop_ws_next = 1
    server.refuse_ws_seconds = 0.9
    specs = [RenderSpec(prompt=f"panel {i}", seed=10 + i, width=64, height=64, panel_id=f"p{i}") for i in range(2)]
    with backend(server) as b:
        b.preflight(specs)
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(b.render, specs))
        assert b.client.reconnects == 1
    # the two threads race to submit: name them by the order the server ran them
    by_id = {r.metrics["prompt_id"]: r.metrics for r in results}
    assert sorted(server.started_ids) == sorted(by_id)
    a, bee = (by_id[pid] for pid in server.started_ids)
    for m in (a, bee):
        assert m.get("timing_source") == "history", m
        assert 0.95 <= m["execution_seconds"] < 2  # the server's 1 s
    assert a["queue_seconds"] < 0.5
    assert 0.9 <= bee["queue_seconds"] < 3  # waited for A's 1 s
