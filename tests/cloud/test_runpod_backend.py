"""RunPodBackend against the local RunPod-compatible endpoint (tests/runpod_server.py)."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image
from runpod_server import RunPodSim, empty_image_builder

from storybench.exceptions import (
    Cancelled,
    ConfigError,
    OutageError,
    OutOfMemoryError,
    PermanentBackendError,
    TransientBackendError,
)
from storybench.render import get_image_backend
from storybench.render.runpod import RunPodBackend
from storybench.render.spec import RenderSpec

KEY = "rp-secret-KEY-0123456789abcdef"


def spec(i: int = 0, **kw) -> RenderSpec:
    base = dict(prompt=f"panel {i}", seed=0x102030 + i, width=128, height=96, panel_id=f"p{i}")
    base.update(kw)
    return RenderSpec(**base)


@pytest.fixture
def env(monkeypatch):
    def point(sim: RunPodSim, key: str = KEY) -> None:
        monkeypatch.setenv("RUNPOD_API_KEY", key)
        monkeypatch.setenv("RUNPOD_ENDPOINT_ID", sim.endpoint_id)
        monkeypatch.setenv("STORYBENCH_RUNPOD_BASE_URL", sim.root)

    return point


def backend(**kw) -> RunPodBackend:
    kw.setdefault("workflow_builder", empty_image_builder)
    kw.setdefault("poll_interval", 0.01)
    kw.setdefault("max_poll_interval", 0.05)
    return RunPodBackend(**kw)


def test_renders_png_of_requested_size_with_timing_and_cost(env):
    with RunPodSim(workers=1, job_seconds=0.03, api_key=KEY) as sim:
        env(sim)
        with backend(price_per_second=0.0005) as be:
            result = be.render(spec(1, width=160, height=96))
    img = Image.open(io.BytesIO(result.image))
    assert img.format == "PNG" and img.size == (160, 96) == (result.width, result.height)
    assert img.getpixel((80, 48)) == (0x10, 0x20, 0x31)  # EmptyImage colour from the seed
    m = result.metrics
    assert m["execution_time_ms"] >= 25 and m["execution_seconds"] == m["execution_time_ms"] / 1000
    assert "delay_time_ms" in m and m["queue_seconds"] == m["delay_time_ms"] / 1000
    assert m["cost"] == pytest.approx(m["execution_time_ms"] / 1000 * 0.0005)
    assert m["submissions"] == 1 and m["runpod_job_id"] in sim.jobs
    run = [r for r in sim.requests if r["path"].endswith("/run")]
    assert len(run) == 1
    sent = json.loads(run[0]["body"])
    assert sent["input"]["workflow"]["1"]["inputs"]["width"] == 160 and "images" not in sent["input"]


def test_registry_creates_backend_with_keyword_options(env):
    with RunPodSim(workers=1, api_key=KEY) as sim:
        env(sim)
        be = get_image_backend("runpod", workflow_builder=empty_image_builder, poll_interval=0.01, max_in_flight=3)
        assert isinstance(be, RunPodBackend) and be.default_concurrency == 3
        be.close()


def test_preflight_derives_concurrency_from_worker_counts(env):
    with RunPodSim(workers=6, api_key=KEY) as sim:
        env(sim)
        with backend() as be:
            info = be.preflight([spec(0), spec(1)])
            assert info["concurrency"] == 6 == be.default_concurrency
            assert info["endpoint_workers"]["idle"] == 6 and info["largest_request_bytes"] > 100
        sim.workers = 2  # a small (or scaled-down) endpoint: still 4 in flight, so the autoscaler sees a queue
        with backend() as be:
            assert be.preflight([spec(0)])["concurrency"] == 4
        with backend(max_in_flight=2) as be:
            assert be.preflight([spec(0)])["concurrency"] == 2


def test_parallel_renders_use_all_workers_and_respect_max_in_flight(env):
    with RunPodSim(workers=4, job_seconds=0.15, api_key=KEY) as sim:
        env(sim)
        with backend(max_in_flight=2) as be, ThreadPoolExecutor(6) as pool:
            results = list(pool.map(be.render, [spec(i) for i in range(8)]))
        assert all(r.width == 128 for r in results)
        assert sim.max_running <= 2
        sim.max_running = 0
        with backend() as be, ThreadPoolExecutor(4) as pool:
            list(pool.map(be.render, [spec(i) for i in range(8)]))
        assert sim.max_running == 4
        assert len({r.metrics["runpod_job_id"] for r in results}) == 8


def test_failed_job_is_transient_with_worker_message_then_retry_succeeds(env):
    with RunPodSim(workers=1, api_key=KEY, fail_first=1.0) as sim:
        env(sim)
        with backend() as be:
            with pytest.raises(TransientBackendError) as err:
                be.render(spec(3))
            assert not isinstance(err.value, OutOfMemoryError)
            text = str(err.value)
            # the SDK's top-level "error" and worker-comfyui's output.details, both
            assert "FAILED: Job processing failed: Workflow execution error: Node Type: KSampler, Node ID: 31" in text
            assert "mat1 and mat2 shapes cannot be multiplied" in text
            assert be.render(spec(3)).width == 128  # the engine's retry: same request, second try


def test_out_of_memory_message_maps_to_out_of_memory_error(env, monkeypatch):
    import runpod_server

    monkeypatch.setattr(
        runpod_server,
        "NODE_ERROR",
        "Workflow execution error: Node Type: KSampler, Node ID: 31, "
        "Message: CUDA out of memory. Tried to allocate 2.00 GiB",
    )
    with RunPodSim(workers=1, api_key=KEY, fail_first=1.0) as sim:
        env(sim)
        with backend() as be, pytest.raises(OutOfMemoryError, match="out of memory"):
            be.render(spec(4))


def test_timed_out_job_is_transient(env):
    with RunPodSim(workers=1, api_key=KEY, timeout_first=1.0) as sim:
        env(sim)
        with backend() as be, pytest.raises(TransientBackendError, match="TIMED_OUT: Job timed out"):
            be.render(spec(5))


def test_expired_result_is_submitted_again(env):
    with RunPodSim(workers=1, api_key=KEY, expire_next=1) as sim:
        env(sim)
        with backend() as be:
            result = be.render(spec(6))
    assert result.metrics["submissions"] == 2
    assert len([r for r in sim.requests if r["path"].endswith("/run")]) == 2


def test_cancel_cancels_jobs_in_flight_on_runpod(env):
    with RunPodSim(workers=1, job_seconds=5.0, api_key=KEY) as sim:
        env(sim)
        with backend() as be:
            errors: list[BaseException] = []

            def work(i: int) -> None:
                try:
                    be.render(spec(i))
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for _ in range(200):
                if len(be.jobs_in_flight) == 2:
                    break
                threading.Event().wait(0.01)
            in_flight = set(be.jobs_in_flight)
            assert len(in_flight) == 2
            be.cancel()
            for t in threads:
                t.join(5)
            assert len(errors) == 2 and all(isinstance(e, Cancelled) for e in errors)
            assert set(sim.cancelled) == in_flight
            assert be.jobs_in_flight == []
            sim.job_seconds = 0.01
            assert be.render(spec(9)).width == 128  # renders after cancel() run normally


def test_wrong_key_is_permanent_and_never_printed(env):
    with RunPodSim(workers=1, api_key="good-key") as sim:
        env(sim, key=KEY)
        with backend() as be:
            with pytest.raises(PermanentBackendError) as err:
                be.render(spec(0))
            with pytest.raises(PermanentBackendError, match="check: check RUNPOD_API_KEY"):
                be.preflight([])
    assert "HTTP 401" in str(err.value) and "RUNPOD_API_KEY" in str(err.value)
    assert KEY not in str(err.value) and KEY not in repr(be) and KEY not in repr(be.api)


def test_missing_environment_is_a_config_error(monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.setenv("RUNPOD_ENDPOINT_ID", "ep")
    with pytest.raises(ConfigError, match="RUNPOD_API_KEY"):
        backend()
    monkeypatch.setenv("RUNPOD_API_KEY", "k")
    monkeypatch.delenv("RUNPOD_ENDPOINT_ID")
    with pytest.raises(ConfigError, match="RUNPOD_ENDPOINT_ID"):
        backend()


def _ref_png(tmp_path, name="ref.png", size=(64, 64), colour=(250, 10, 10)):
    path = tmp_path / name
    Image.new("RGB", size, colour).save(path)
    return path


def test_reference_images_travel_as_base64_and_reach_the_workflow(env, tmp_path):
    ref = _ref_png(tmp_path)
    with RunPodSim(workers=1, api_key=KEY) as sim:
        env(sim)
        with backend() as be:
            result = be.render(spec(7, width=256, height=256, reference_images=(str(ref),)))
    sent = json.loads(next(r for r in sim.requests if r["path"].endswith("/run"))["body"])["input"]
    (image,) = sent["images"]
    assert base64.b64decode(image["image"]) == ref.read_bytes()
    assert sent["workflow"]["3"]["inputs"]["image"] == image["name"] and image["name"].startswith("sb_ref_")
    img = Image.open(io.BytesIO(result.image)).convert("RGB")
    assert img.getpixel((5, 5)) == (250, 10, 10)  # the worker pasted the reference: it arrived intact


def test_oversized_payload_is_refused_before_sending(env, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (8 * 1024 * 1024))  # 8 MB -> ~10.7 MB of base64
    with RunPodSim(workers=1, api_key=KEY) as sim:
        env(sim)
        with backend() as be:
            with pytest.raises(PermanentBackendError) as err:
                be.render(spec(8, reference_images=(str(big),)))
            with pytest.raises(PermanentBackendError):
                be.preflight([spec(8, reference_images=(str(big),))])
            text = str(err.value)
            assert "over the /run limit of 10,485,760 bytes" in text and "reference_url_base" in text
            assert not [r for r in sim.requests if r["path"].endswith("/run")]
        with backend(reference_url_base="https://cdn.example.org/refs/") as be:
            body = json.loads(be.build_request(spec(8, reference_images=(str(big),))))
            (image,) = body["input"]["images"]
            assert image["image"] == f"https://cdn.example.org/refs/{image['name']}"


def test_missing_reference_file_is_permanent(env, tmp_path):
    with RunPodSim(workers=1, api_key=KEY) as sim:
        env(sim)
        with backend() as be, pytest.raises(PermanentBackendError, match=r"nope.png does not exist"):
            be.render(spec(0, reference_images=(str(tmp_path / "nope.png"),)))


def test_s3_url_output_is_downloaded_without_the_api_key(env):
    with RunPodSim(workers=1, api_key=KEY, output_type="s3_url") as sim:
        env(sim)
        with backend() as be:
            result = be.render(spec(2, width=64, height=80))
    assert (result.width, result.height) == (64, 80)
    s3 = [r for r in sim.requests if r["path"].startswith("/s3/")]
    assert len(s3) == 1 and "Authorization" not in s3[0]["headers"]


def test_secret_key_is_in_no_output_or_log(env, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    ref = _ref_png(tmp_path)
    with RunPodSim(workers=2, api_key=KEY, fail_first=0.5, expire_next=1) as sim:
        env(sim)
        written = []
        with backend(price_per_second=0.001) as be:
            written.append(json.dumps(be.preflight([spec(0)]), default=str))
            for i in range(4):
                try:
                    r = be.render(spec(i, reference_images=(str(ref),)))
                    written.append(r.image.decode("latin-1"))
                    written.append(json.dumps(r.metrics))
                except TransientBackendError as exc:
                    written.append(str(exc))
            written.append(repr(be))
    written.append(caplog.text)
    assert all(KEY not in text for text in written)
    # the key did travel (only) in the Authorization header
    assert all(
        r["headers"].get("Authorization") == f"Bearer {KEY}" for r in sim.requests if r["path"].startswith("/v2")
    )


def test_template_builder_fills_comfyui_template(env):
    pytest.importorskip("storybench.render.comfyui.workflow")
    with RunPodSim(workers=1, api_key=KEY) as sim:
        env(sim)
        with RunPodBackend(workflow="empty_image", text_workflow="empty_image", poll_interval=0.01) as be:
            result = be.render(spec(1, width=192, height=64))
            assert be.cache_identity(spec(1)) != be.cache_identity(spec(1, params={"workflow": "sd15_txt2img"}))
    assert (result.width, result.height) == (192, 64)


def test_status_errors_while_polling_are_waited_out_up_to_the_outage_budget(env):
    with RunPodSim(workers=1, job_seconds=0.05, api_key=KEY, status_errors=3) as sim:
        env(sim)
        with backend() as be:
            assert be.render(spec(0)).metrics["submissions"] == 1
        sim.status_errors, sim.job_seconds = 10_000, 2.0
        with (
            backend(outage_seconds=0.3) as be,
            pytest.raises(OutageError, match=r"the RunPod API at .* unreachable since \d\d:\d\d:\d\d"),
        ):
            be.render(spec(1))
        sim.status_errors = 0
    assert len(sim.cancelled) == 1  # the abandoned job was cancelled, not left running (and billed)


def test_injected_transport_answers_without_a_network(monkeypatch):
    import httpx

    monkeypatch.setenv("RUNPOD_API_KEY", KEY)
    monkeypatch.setenv("RUNPOD_ENDPOINT_ID", "ep-mock")
    monkeypatch.delenv("STORYBENCH_RUNPOD_BASE_URL", raising=False)
    png = io.BytesIO()
    Image.new("RGB", (72, 40), (9, 9, 9)).save(png, format="PNG")
    polls = []

    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.runpod.ai" and request.url.path.startswith("/v2/ep-mock/")
        if request.url.path.endswith("/run"):
            return httpx.Response(200, json={"id": "job-1", "status": "IN_QUEUE"})
        polls.append(request.url.path)
        if len(polls) < 3:
            return httpx.Response(200, json={"id": "job-1", "status": "IN_PROGRESS" if polls else "IN_QUEUE"})
        return httpx.Response(
            200,
            json={
                "id": "job-1",
                "status": "COMPLETED",
                "delayTime": 1200,
                "executionTime": 8400,
                "output": {
                    "images": [
                        {"filename": "x.png", "type": "base64", "data": base64.b64encode(png.getvalue()).decode()}
                    ]
                },
            },
        )

    with backend(transport=httpx.MockTransport(api), price_per_second=0.0004) as be:
        result = be.render(spec(0))
    assert polls == ["/v2/ep-mock/status/job-1"] * 3
    assert (result.width, result.height) == (72, 40)
    assert result.metrics["delay_time_ms"] == 1200 and result.metrics["execution_seconds"] == 8.4
    assert result.metrics["cost"] == pytest.approx(8.4 * 0.0004)


def test_polling_learns_the_job_time_and_polls_less(env):
    with RunPodSim(workers=1, job_seconds=0.5, api_key=KEY) as sim:
        env(sim)
        with backend(poll_interval=0.01, max_poll_interval=0.02) as be:
            counts = []
            for i in range(2):
                before = sum(1 for r in sim.requests if "/status/" in r["path"])
                be.render(spec(i))
                counts.append(sum(1 for r in sim.requests if "/status/" in r["path"]) - before)
    assert counts[0] >= 12  # no history: 0.01, 0.015, 0.02, 0.02 ... s steps through 0.5 s (~26 when idle)
    assert counts[1] <= counts[0] // 2  # then: one sleep through 85% of 0.5 s, then a few fine polls (~6)


def test_template_builder_picks_kontext_for_references_and_refuses_it_without(env, tmp_path):
    pytest.importorskip("storybench.render.comfyui.workflow")
    from storybench.exceptions import WorkflowError

    ref = _ref_png(tmp_path)
    with RunPodSim(workers=1, api_key=KEY) as sim:
        env(sim)
        with RunPodBackend(workflow="flux1_kontext", text_workflow="flux1_dev") as be:
            with_ref = json.loads(be.build_request(spec(1, reference_images=(str(ref),))))["input"]
            loads = [n for n in with_ref["workflow"].values() if n["class_type"] == "LoadImage"]
            assert loads and loads[0]["inputs"]["image"] == with_ref["images"][0]["name"]
            plain = json.loads(be.build_request(spec(2)))["input"]
            assert "images" not in plain
            assert not [n for n in plain["workflow"].values() if n["class_type"] == "LoadImage"]
        with (
            RunPodBackend(workflow="flux1_kontext", text_workflow=None) as be,
            pytest.raises(WorkflowError, match="needs a reference image"),
        ):
            be.build_request(spec(3))
