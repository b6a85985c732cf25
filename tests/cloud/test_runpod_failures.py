"""RunPod failures as the real worker-comfyui + runpod SDK report them, and API outages.

The local endpoint (tests/runpod_server.py) answers a failed job the way the SDK does:
``{"status": "FAILED", "error": "Job processing failed", "output": {"details": [...]}}``.
"""

from __future__ import annotations

import json
import threading
import time
from functools import partial

import pytest
from plan_factory import plan_dict
from runpod_server import BAD_NODE_ERROR, RunPodSim, sdk_result
from specs import make_spec
from test_runpod_batch import KEY, backend, small_settings

from storybench.batch import read_catalog, render_plan
from storybench.exceptions import OutOfMemoryError
from storybench.render.runpod import job_error_text


@pytest.fixture
def point(monkeypatch):
    def _point(sim: RunPodSim) -> None:
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("RUNPOD_ENDPOINT_ID", sim.endpoint_id)
        monkeypatch.setenv("STORYBENCH_RUNPOD_BASE_URL", sim.root)

    return _point


spec = partial(make_spec, seed_base=7, width=96, height=64)


def test_sdk_moves_error_to_the_top_and_keeps_details_in_output():
    error, output = sdk_result({"error": "Job processing failed", "details": [BAD_NODE_ERROR]})
    assert error == "Job processing failed" and output == {"details": [BAD_NODE_ERROR]}
    assert sdk_result({"error": "Missing 'workflow' parameter"}) == ("Missing 'workflow' parameter", None)


def test_job_error_text_reads_top_level_output_details_and_output_error():
    status = {"status": "FAILED", "error": "Job processing failed", "output": {"details": [BAD_NODE_ERROR]}}
    assert job_error_text(status) == f"Job processing failed: {BAD_NODE_ERROR}"
    both = {"error": "Job processing failed", "output": {"error": "upload failed", "details": ["a", "b"]}}
    assert job_error_text(both) == "Job processing failed: upload failed; a; b"
    sdk_exception = {"error": json.dumps({"error_type": "<class 'KeyError'>", "error_message": "'images'"})}
    assert job_error_text(sdk_exception) == "<class 'KeyError'>: 'images'"
    assert job_error_text({"status": "FAILED"}) == "no error message"


def test_node_message_reaches_the_catalog_error_column(point, tmp_path):
    plan = plan_dict(("two-horizontal",), plan_id="rp-node-error")
    with RunPodSim(workers=1, job_seconds=0.01, api_key=KEY, node_error_next=100) as sim:
        point(sim)
        with backend() as be:
            summary = render_plan(
                plan, backend=be, output_dir=tmp_path, settings=small_settings(retries=2), progress=False
            )
    assert summary.status == "failed"
    catalog = read_catalog(tmp_path)
    panels = catalog[catalog.kind == "panel"]
    assert len(panels) == 2 and set(panels.status) == {"failed"}
    for error in panels.error:
        assert "Job processing failed" in error
        assert "Node Type: CheckpointLoaderSimple, Node ID: 4, Message: Error while deserializing header" in error
    assert set(panels.attempts) == {2}  # a node failure is a real failure: attempts are spent


def test_out_of_memory_in_output_details_is_recognised(point, monkeypatch):
    import runpod_server

    oom = (
        "Workflow execution error: Node Type: KSampler, Node ID: 31, Message: "
        "Allocation on device 0 would exceed allowed memory. (out of memory)"
    )
    monkeypatch.setattr(runpod_server, "NODE_ERROR", oom)
    with RunPodSim(workers=1, api_key=KEY, fail_first=1.0) as sim:
        point(sim)
        with backend() as be, pytest.raises(OutOfMemoryError) as err:
            be.render(spec(1))
    assert "Job processing failed" in str(err.value) and "Allocation on device 0" in str(err.value)


def test_job_failing_on_a_cold_worker_is_submitted_again(point):
    with RunPodSim(workers=1, job_seconds=0.01, api_key=KEY, cold_next=1) as sim:
        point(sim)
        with backend() as be:
            result = be.render(spec(2))
    assert result.width == 96 and result.metrics["submissions"] == 2
    assert len([r for r in sim.requests if r["path"].endswith("/run")]) == 2


def test_api_outage_is_waited_out_without_spending_attempts(point, tmp_path):
    plan = plan_dict(("two-horizontal",), plan_id="rp-outage")
    with RunPodSim(workers=1, job_seconds=0.05, api_key=KEY) as sim:
        point(sim)
        sim.api_down = True
        threading.Timer(1.5, lambda: setattr(sim, "api_down", False)).start()
        with backend(outage_seconds=30) as be:
            t0 = time.monotonic()
            summary = render_plan(
                plan, backend=be, output_dir=tmp_path, settings=small_settings(retries=1), progress=False
            )
    assert summary.status == "completed", summary.errors
    assert time.monotonic() - t0 >= 1.4
    panels = read_catalog(tmp_path)
    panels = panels[panels.kind == "panel"]
    assert set(panels.attempts) == {1}


def test_api_outage_past_the_budget_fails_the_run_with_one_message(point, tmp_path):
    plan = plan_dict(("grid-2x2",), plan_id="rp-outage-long")
    with RunPodSim(workers=1, api_key=KEY) as sim:
        point(sim)
        with backend(max_in_flight=2) as be:
            be.preflight([])  # the endpoint answers at the start
            sim.api_down = True
            be.outage_seconds = 0.5
            summary = render_plan(plan, backend=be, output_dir=tmp_path, settings=small_settings(), progress=False)
    assert summary.status == "failed"
    outage = [e for e in summary.errors if "unreachable since" in e]
    assert len(outage) == 1 and "the RunPod API at" in outage[0], summary.errors
