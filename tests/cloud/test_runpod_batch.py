"""The batch engine end to end over the local RunPod-compatible endpoint (tests/runpod_server.py).

A 20-panel plan (5 grid-2x2 pages, two characters talking) is rendered with
``render_plan(..., backend=RunPodBackend(...))``: a clean run, a run where a fifth of
the jobs fail or time out on their first try, and a run cancelled half-way.
"""

from __future__ import annotations

import threading
import time

import pytest
from plan_factory import plan_dict
from runpod_server import RunPodSim

from storybench.batch import read_catalog, render_plan
from storybench.config import RenderSettings
from storybench.render.runpod import RunPodBackend
from storybench.render.spec import RenderSpec

KEY = "rp-batch-secret-0123456789abcdef"
PAGES = 5


def small_settings(**kw) -> RenderSettings:
    base = dict(page_width=600, page_height=900, panel_max_side=256, margin=20, gutter=10, backoff_seconds=0.01)
    base.update(kw)
    return RenderSettings(**base)


def empty_image_builder(spec: RenderSpec, reference_name: str | None) -> dict:
    """API-format workflow EmptyImage -> SaveImage: the simulated worker draws a PNG of the spec's size."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": spec.width, "height": spec.height, "batch_size": 1, "color": spec.seed & 0xFFFFFF},
        },
        "2": {"class_type": "SaveImage", "inputs": {"filename_prefix": f"sb/{spec.panel_id}", "images": ["1", 0]}},
    }


def twenty_panel_plan(plan_id: str) -> dict:
    return plan_dict(("grid-2x2",) * PAGES, plan_id=plan_id)


@pytest.fixture
def point(monkeypatch):
    def _point(sim: RunPodSim) -> None:
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("RUNPOD_ENDPOINT_ID", sim.endpoint_id)
        monkeypatch.setenv("STORYBENCH_RUNPOD_BASE_URL", sim.root)

    return _point


def backend(**kw) -> RunPodBackend:
    kw.setdefault("workflow_builder", empty_image_builder)
    kw.setdefault("poll_interval", 0.01)
    kw.setdefault("max_poll_interval", 0.03)
    return RunPodBackend(**kw)


def panel_ids(plan: dict) -> set[str]:
    return {p["id"] for page in plan["chapters"][0]["pages"] for p in page["panels"]}


def test_twenty_panels_render_with_four_workers_and_timings_in_the_catalog(point, tmp_path):
    plan = twenty_panel_plan("rp-twenty")
    with RunPodSim(workers=4, job_seconds=0.03, api_key=KEY) as sim:
        point(sim)
        with backend() as be:
            summary = render_plan(plan, backend=be, output_dir=tmp_path, settings=small_settings(), progress=False)
    assert summary.status == "completed", summary.errors
    assert summary.counts.panels_rendered == 20 and summary.counts.pages_composed == PAGES
    assert summary.pdf is not None and summary.pdf.is_file() and summary.cbz is not None and summary.cbz.is_file()
    # preflight sized the pool from /health (4 idle workers) and the endpoint ran 4 jobs at once
    assert summary.rows and sim.max_running == 4
    runs = [r for r in sim.requests if r["path"].endswith("/run")]
    assert len(runs) == 20 and all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in runs)

    catalog = read_catalog(tmp_path)
    run = catalog[catalog.run_id == summary.run_id]
    panels = run[run.kind == "panel"]
    pages = run[run.kind == "page"]
    assert set(panels.panel_id) == panel_ids(plan) and len(panels) == 20
    assert sorted(pages.page_number) == list(range(1, PAGES + 1))
    assert set(run.status) == {"completed"}
    assert panels.delay_time_ms.notna().all() and panels.execution_time_ms.notna().all()
    assert (panels.execution_time_ms >= 20).all()  # the simulated workers take 30 ms per job
    assert (panels.backend == "runpod").all() and (panels.attempts == 1).all()
    for rel in list(panels.path) + list(pages.path):
        assert (tmp_path / rel).is_file()


def test_first_try_failures_and_timeouts_are_retried_until_every_panel_completes(point, tmp_path):
    plan = twenty_panel_plan("rp-flaky")
    with RunPodSim(workers=4, job_seconds=0.02, api_key=KEY, fail_first=0.1, timeout_first=0.1, seed=3) as sim:
        point(sim)
        with backend() as be:
            summary = render_plan(
                plan,
                backend=be,
                output_dir=tmp_path,
                settings=small_settings(retries=3, backoff_seconds=0.01),
                progress=False,
            )
        final = {j.id: j.status for j in sim.jobs.values()}
    assert summary.status == "completed", summary.errors
    failed_first = [s for s in final.values() if s in ("FAILED", "TIMED_OUT")]
    assert {"FAILED", "TIMED_OUT"} <= set(failed_first)  # both kinds of failure really happened
    catalog = read_catalog(tmp_path)
    panels = catalog[(catalog.run_id == summary.run_id) & (catalog.kind == "panel")]
    assert len(panels) == 20 and set(panels.status) == {"completed"}
    retried = panels[panels.attempts > 1]
    assert len(retried) == len(failed_first)  # each failed job cost its panel exactly one more attempt
    assert (panels.attempts <= 2).all()
    assert len([r for r in sim.requests if r["path"].endswith("/run")]) == 20 + len(failed_first)


def test_cancelled_batch_leaves_no_job_running_on_the_endpoint(point, tmp_path):
    plan = twenty_panel_plan("rp-cancel")
    # one worker, eight jobs in flight: most of them wait IN_QUEUE on the endpoint when the cancel comes
    with RunPodSim(workers=1, job_seconds=0.05, api_key=KEY) as sim:
        point(sim)
        with backend(max_in_flight=8) as be:
            cancel = threading.Event()
            completed: list[str] = []

            def on_event(event) -> None:
                if event.type == "job_finished" and event.kind == "panel" and event.state == "completed":
                    completed.append(event.artifact_id)
                    if len(completed) == 3:
                        cancel.set()

            result: dict = {}
            thread = threading.Thread(
                target=lambda: result.update(
                    summary=render_plan(
                        plan,
                        backend=be,
                        output_dir=tmp_path,
                        settings=small_settings(concurrency=8),
                        progress=False,
                        on_event=on_event,
                        cancel_event=cancel,
                    )
                )
            )
            thread.start()
            assert cancel.wait(20), "no panel completed"
            cancelled_at = time.monotonic()
            thread.join(20)
            assert not thread.is_alive()
            assert time.monotonic() - cancelled_at < 2.0  # a sanity bound; the server state below is the test
            deadline = time.monotonic() + 1.0
            while True:
                with sim.lock:
                    busy = [j.id for j in sim.jobs.values() if j.status in ("IN_QUEUE", "IN_PROGRESS")]
                if not busy or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            assert busy == []
            # jobs were waiting on the endpoint (1 worker, 8 in flight): the engine cancelled them there
            assert sim.cancelled, "the engine never asked the endpoint to cancel its jobs"
            with sim.lock:
                assert all(sim.jobs[j].status == "CANCELLED" for j in sim.cancelled)
            assert be.jobs_in_flight == []
    summary = result["summary"]
    assert summary.status == "cancelled"
    catalog = read_catalog(tmp_path)
    panels = catalog[(catalog.run_id == summary.run_id) & (catalog.kind == "panel")]
    assert 3 <= (panels.status == "completed").sum() < 20
    assert (panels.status == "cancelled").sum() >= 20 - len(sim.jobs)  # never submitted: cancelled
    assert set(panels.status) <= {"completed", "cancelled"}
    exports = catalog[(catalog.run_id == summary.run_id) & catalog.kind.isin(["pdf", "cbz"])]
    assert set(exports.status) == {"cancelled"}


def test_engine_uses_character_sheets_only_with_a_reference_template(point, tmp_path):
    """``supports_reference_images`` (what makes the engine render character sheets and
    attach them to panels) follows the templates: Kontext with a text workflow for the sheets."""
    with RunPodSim(workers=1, api_key=KEY) as sim:
        point(sim)
        cases = {
            (("workflow", "flux1_kontext"), ("text_workflow", "flux1_dev")): True,
            (("workflow", "flux1_kontext"), ("text_workflow", None)): False,  # nothing could render the sheets
            (("workflow", "flux1_dev"), ("text_workflow", "flux1_dev")): False,
        }
        for options, expected in cases.items():
            with RunPodBackend(**dict(options)) as be:
                assert be.supports_reference_images is expected, options
        with backend() as be:  # a custom workflow_builder: no references
            assert be.supports_reference_images is False
