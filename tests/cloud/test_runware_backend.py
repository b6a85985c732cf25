"""RunwareBackend through the real ``runware`` SDK against a local websocket server."""

from __future__ import annotations

import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from PIL import Image

pytest.importorskip("runware")

from runware_server import RunwareSim
from specs import make_spec

from storybench.exceptions import ConfigError, PermanentBackendError, TransientBackendError
from storybench.render import get_image_backend
from storybench.render.runware import RunwareBackend, runware_size, validate_air

KEY = "rw-secret-KEY-fedcba9876543210"


spec = partial(
    make_spec,
    prompt="a detective in the rain, panel {i}",
    negative_prompt="blurry",
    seed_base=0x405060,
    width=512,
    height=384,
)


@pytest.fixture
def sim(monkeypatch):
    with RunwareSim(api_key=KEY) as server:
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        monkeypatch.setenv("STORYBENCH_RUNWARE_URL", server.url)
        yield server


def images(sim: RunwareSim) -> list[dict]:
    return [t for t in sim.received if t["taskType"] == "imageInference"]


def test_renders_with_model_seed_size_and_cost(sim):
    with RunwareBackend(model="civitai:101055@128078") as be:
        result = be.render(spec(1))
    (task,) = images(sim)
    assert task["model"] == "civitai:101055@128078" and task["seed"] == 0x405061
    assert task["positivePrompt"] == "a detective in the rain, panel 1" and task["negativePrompt"] == "blurry"
    assert (task["width"], task["height"]) == (512, 384) and task["includeCost"] is True
    assert task["outputType"] == "base64Data" and task["outputFormat"] == "PNG"
    img = Image.open(io.BytesIO(result.image))
    assert img.format == "PNG" and img.size == (512, 384) == (result.width, result.height)
    assert img.getpixel((10, 10)) == (0x40, 0x50, 0x61)
    assert result.metrics["cost"] == pytest.approx(0.0038) and result.metrics["model"] == "civitai:101055@128078"
    assert result.metrics["runware_task_uuid"] == task["taskUUID"]


def test_sizes_are_rounded_to_multiples_of_64_and_fitted_back(sim):
    with RunwareBackend() as be:
        result = be.render(spec(2, width=1000, height=696))
        raw = RunwareBackend(fit_to_spec=False)
        try:
            unfitted = raw.render(spec(3, width=1000, height=696))
        finally:
            raw.close()
    assert [(t["width"], t["height"]) for t in images(sim)] == [(1024, 704), (1024, 704)]
    assert (result.width, result.height) == (1000, 696)
    assert (unfitted.width, unfitted.height) == (1024, 704)
    assert result.metrics["render_width"] == 1024


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1000, 700), (1024, 704)),
        ((4096, 1024), (2048, 512)),
        ((64, 64), (128, 128)),
        ((768, 1024), (768, 1024)),
        ((96, 4000), (128, 2048)),
    ],
)
def test_runware_size_limits(size, expected):
    w, h = runware_size(*size)
    assert (w, h) == expected and w % 64 == 0 == h % 64 and min(w, h) >= 128 and max(w, h) <= 2048


def test_air_ids_are_validated():
    assert validate_air(" civitai:101055@128078 ") == "civitai:101055@128078"
    for bad in ("civitai:101055", "101055@128078", "civitai:abc@1", "sdxl.safetensors", ""):
        with pytest.raises(ConfigError, match="not a Runware model AIR id"):
            validate_air(bad)


def test_bad_model_in_params_is_refused_before_sending(sim):
    with RunwareBackend() as be:
        with pytest.raises(ConfigError, match=r"params.model"):
            be.render(spec(0, params={"model": "my_model.safetensors"}))
        be.render(spec(0, params={"model": "civitai:101055@128078"}))
    assert [t["model"] for t in images(sim)] == ["civitai:101055@128078"]


def test_unknown_model_is_a_permanent_error_naming_the_parameter(sim):
    with RunwareBackend(model="civitai:1@2") as be, pytest.raises(PermanentBackendError) as err:
        be.render(spec(0))
    assert "invalidModel (parameter model)" in str(err.value) and "civitai:1@2" in str(err.value)


def test_provider_timeout_is_transient_then_retry_succeeds(sim):
    sim.fail_next = 1
    with RunwareBackend() as be:
        with pytest.raises(TransientBackendError, match="timeoutProvider"):
            be.render(spec(0))
        assert be.render(spec(0)).width == 512


def test_prompt_enhancement_is_off_by_default_and_adds_cost_when_on(sim):
    with RunwareBackend() as be:
        be.render(spec(0))
    assert not [t for t in sim.received if t["taskType"] == "promptEnhance"]
    with RunwareBackend(enhance_prompt=True, enhance_max_length=120) as be:
        result = be.render(spec(1))
    (enh,) = [t for t in sim.received if t["taskType"] == "promptEnhance"]
    assert enh["prompt"] == "a detective in the rain, panel 1" and enh["promptMaxLength"] == 120
    assert enh["promptVersions"] == 1
    last = images(sim)[-1]
    assert last["positivePrompt"] == result.metrics["enhanced_prompt"]
    assert last["positivePrompt"].startswith("a detective in the rain, panel 1, cinematic ink")
    assert result.metrics["cost"] == pytest.approx(0.0038 + 0.0002)


def test_concurrent_renders_share_one_connection(sim):
    sim.job_seconds = 0.1
    with RunwareBackend() as be, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(be.render, [spec(i) for i in range(8)]))
    assert len({r.metrics["runware_task_uuid"] for r in results}) == 8
    assert sim.max_in_flight >= 3
    assert sum(1 for t in sim.received if t["taskType"] == "authentication") == 1


def test_wrong_key_is_permanent_and_never_printed(monkeypatch):
    with RunwareSim(api_key="good-key") as server:
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        monkeypatch.setenv("STORYBENCH_RUNWARE_URL", server.url)
        with RunwareBackend() as be:
            with pytest.raises(PermanentBackendError) as err:
                be.preflight([spec(0)])
            with pytest.raises(PermanentBackendError):
                be.render(spec(0))
    assert "check: check RUNWARE_API_KEY" in str(err.value) and "Invalid API key" in str(err.value)
    assert KEY not in str(err.value) and KEY not in repr(be)


def test_missing_key_and_bad_options_are_config_errors(monkeypatch):
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="RUNWARE_API_KEY"):
        RunwareBackend()
    monkeypatch.setenv("RUNWARE_API_KEY", "k")
    with pytest.raises(ConfigError, match="output_type"):
        RunwareBackend(output_type="GIF")
    with pytest.raises(ConfigError, match="AIR"):
        get_image_backend("runware", model="flux1-dev.safetensors")


def test_preflight_reports_models_and_sizes(sim):
    with get_image_backend("runware", model="runware:101@1") as be:
        info = be.preflight([spec(0, width=1000, height=696), spec(1, params={"model": "civitai:101055@128078"})])
    assert info["models"] == ["civitai:101055@128078", "runware:101@1"]
    assert info["sizes"]["1000x696"] == "1024x704"


def test_secret_key_is_in_no_output_or_log(sim, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("runware", "runware.base", "websockets", "websockets.client"):
        caplog.set_level(logging.DEBUG, logger=name)
    written = []
    sim.fail_next = 1
    with RunwareBackend(enhance_prompt=True) as be:
        written.append(json.dumps(be.preflight([spec(0)])))
        for i in range(2):
            try:
                r = be.render(spec(i))
                written += [r.image.decode("latin-1"), json.dumps(r.metrics)]
            except TransientBackendError as exc:
                written.append(str(exc))
        written.append(repr(be))
    written.append(caplog.text)
    assert any(t.get("apiKey") == KEY for t in sim.received)  # the key went to the server ...
    assert all(KEY not in text for text in written)  # ... and nowhere else


def test_url_output_is_downloaded(sim):
    import httpx

    def cdn(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "im.runware.test" and "authorization" not in request.headers
        buf = io.BytesIO()
        Image.new("RGB", (512, 384), (1, 2, 3)).save(buf, format="PNG")
        return httpx.Response(200, content=buf.getvalue())

    with RunwareBackend(output_type="URL", transport=httpx.MockTransport(cdn)) as be:
        result = be.render(spec(0))
    assert images(sim)[0]["outputType"] == "URL"
    assert Image.open(io.BytesIO(result.image)).getpixel((0, 0)) == (1, 2, 3)


def test_cancel_stops_waiting_renders(sim):
    import threading
    import time

    from storybench.exceptions import Cancelled

    sim.job_seconds = 5.0
    errors: list[BaseException] = []
    with RunwareBackend() as be:

        def work() -> None:
            try:
                be.render(spec(0))
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=work)
        t.start()
        for _ in range(300):
            if images(sim):
                break
            time.sleep(0.01)
        started = time.monotonic()
        be.cancel()
        t.join(5)
        assert time.monotonic() - started < 2
        assert len(errors) == 1 and isinstance(errors[0], Cancelled)
        sim.job_seconds = 0.01
        assert be.render(spec(1)).width == 512  # the backend still works after cancel()
