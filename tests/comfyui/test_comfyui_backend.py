"""The ComfyUI backend against the protocol-faithful test server (tests/comfy_server.py)."""

from __future__ import annotations

import io
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from storybench.exceptions import (
    BackendUnavailable,
    Cancelled,
    ConfigError,
    OutageError,
    OutOfMemoryError,
    TransientBackendError,
    WorkflowError,
)
from storybench.render.base import get_image_backend
from storybench.render.comfyui import ComfyUIBackend
from storybench.render.comfyui.memory import GIB
from storybench.render.comfyui.options import ComfyUIOptions
from storybench.render.spec import RenderSpec

try:
    from comfy_server import ComfyTestServer
except ImportError:  # tests/ imported as a package
    from tests.comfy_server import ComfyTestServer


@pytest.fixture
def server():
    with ComfyTestServer(seconds_per_prompt=0.05, history_delay=0.05) as srv:
        yield srv


def make(server, **kw):
    kw.setdefault("workflow", "empty_image")
    return ComfyUIBackend(url=server.url, **kw)


def spec(i=0, **kw):
    base = dict(prompt=f"panel {i}", seed=100 + i, width=64 + 8 * i, height=96, panel_id=f"p{i}")
    base.update(kw)
    return RenderSpec(**base)


def pixel(image_bytes):
    with Image.open(io.BytesIO(image_bytes)) as img:
        return img.convert("RGB").getpixel((img.width - 1, img.height - 1))


def expected_color(seed):
    c = (seed * 2654435761) & 0xFFFFFF
    return ((c >> 16) & 255, (c >> 8) & 255, c & 255)


def test_concurrent_renders_keep_k_queued_and_return_the_right_images(server):
    progress = []
    with make(server, queue_depth=2, on_progress=lambda pid, v, m: progress.append((pid, v, m))) as backend:
        assert backend.default_concurrency == 2
        specs = [spec(i) for i in range(6)]
        backend.preflight(specs)
        with ThreadPoolExecutor(backend.default_concurrency) as pool:
            results = list(pool.map(backend.render, specs))
    assert server.max_depth <= 2
    for s, r in zip(specs, results, strict=True):
        assert (r.width, r.height) == (s.width, s.height)
        assert pixel(r.image) == expected_color(s.seed)
        assert 0 < r.metrics["execution_seconds"] < 2
        assert r.metrics["queue_seconds"] is not None
        assert r.metrics["free_calls"] == 0 and r.metrics["cached"] is False
    assert len({r.metrics["prompt_id"] for r in results}) == 6
    assert {p[0] for p in progress} == {s.panel_id for s in specs}
    assert ("p0", 4, 4) in progress


def test_cached_rerun_returns_that_prompts_image(server):
    with make(server) as backend:
        a, b = spec(1), spec(2)
        first = backend.render(a)
        other = backend.render(b)
        again = backend.render(a)  # identical prompt: ComfyUI serves it from cache with the OLD file name
    assert again.metrics["cached"] is True
    assert again.metrics["filename"] == first.metrics["filename"]
    assert again.metrics["prompt_id"] != first.metrics["prompt_id"]
    assert again.image == first.image != other.image
    assert pixel(again.image) == expected_color(a.seed)


def test_node_error_becomes_workflow_error_naming_node_and_checkpoint(server):
    with make(server, workflow="sd15_txt2img") as backend, pytest.raises(WorkflowError) as info:
        backend.render(spec(params={"checkpoint": "missing_model.safetensors"}))
    text = str(info.value)
    assert "node 4 (CheckpointLoaderSimple) input ckpt_name" in text
    assert "missing_model.safetensors" in text and "prompt_outputs_failed_validation" in text
    assert not server.executed_ids


def test_preflight_names_missing_checkpoint_before_any_prompt(server):
    server.unets = ["flux1-dev.safetensors"]
    with make(server, workflow="flux1_kontext") as backend:
        assert backend.supports_reference_images
        with pytest.raises(WorkflowError) as info:
            backend.preflight([spec(i) for i in range(3)])
    text = str(info.value)
    assert "flux1-kontext-dev-fp8.safetensors is not installed" in text
    assert "installed: flux1-dev.safetensors" in text
    assert server.prompt_posts == 0


def test_out_of_memory_frees_once_then_retry_succeeds(server, caplog):
    server.oom_next = 1
    with make(server) as backend:
        backend.preflight([spec(1)])
        assert server.free_calls == 0
        with (
            caplog.at_level(logging.INFO, logger="storybench.comfyui"),
            pytest.raises(OutOfMemoryError) as info,
        ):
            backend.render(spec(1))
        assert info.value.transient and "node 1 (EmptyImage)" in str(info.value)
        assert server.free_calls == 1 and server.free_bodies == [{"unload_models": True, "free_memory": True}]
        assert any("POST /free" in r.message for r in caplog.records)
        result = backend.render(spec(1))  # the engine's retry
    assert pixel(result.image) == expected_color(spec(1).seed)
    assert server.free_calls == 1


def test_ample_vram_never_frees_and_short_vram_frees_and_unloads_ollama(server):
    with make(server, vram_check_interval=0) as backend:
        backend.preflight([spec(0)])
        for i in range(3):
            r = backend.render(spec(i))
            assert r.metrics["vram_free_before"] == 20 * GIB
    assert server.free_calls == 0

    server.vram_free, server.vram_after_free = 1 * GIB, 12 * GIB
    unloaded = []

    def ollama(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/ps":
            return httpx.Response(200, json={"models": [{"name": "llama3:8b", "model": "llama3:8b"}]})
        unloaded.append(request.read())
        return httpx.Response(200, json={"done": True})

    with make(server, ollama_host="http://ollama.test:11434") as backend:
        backend.memory.http = httpx.Client(transport=httpx.MockTransport(ollama))
        report = backend.preflight([spec(0)])
        assert report["vram_free_before"] == 1 * GIB and report["vram_free_after"] == 12 * GIB
        assert report["free_calls"] == 1 and report["ollama_unloaded"] == ["llama3:8b"]
        backend.render(spec(0))
    assert server.free_calls == 1
    assert unloaded == [b'{"model":"llama3:8b","keep_alive":0}']


def test_between_jobs_frees_only_for_memory_held_by_others(server):
    with make(server, vram_check_interval=0) as backend:
        backend.preflight([spec(0)])
        # ComfyUI's own loaded model fills the card: rendering goes on, nothing is freed
        server.vram_free, server.comfy_held = 1 * GIB, 12 * GIB
        for i in range(2):
            assert backend.render(spec(i)).metrics["free_calls"] == 0
        assert server.free_calls == 0
        # another program holds the memory: free before the next job
        server.comfy_held, server.vram_after_free = 0, 6 * GIB
        r = backend.render(spec(5))
        assert r.metrics["free_calls"] == 1
        assert (r.metrics["vram_free_before"], r.metrics["vram_free_after"]) == (1 * GIB, 6 * GIB)
    assert server.free_calls == 1


def test_cpu_only_server_counts_as_ample(server):
    server.device_type, server.vram_free = "cpu", 0
    with make(server) as backend:
        report = backend.preflight([spec(0)])
    assert report["vram_free_before"] is None and server.free_calls == 0


@pytest.mark.parametrize("refuse", [1.0, 0.0])
def test_dropped_websocket_completes_by_polling_history_then_reconnects(server, caplog, refuse):
    server.seconds_per_prompt = 0.3
    server.history_delay = 0.3
    server.drop_ws_next = 1
    server.refuse_ws_seconds = refuse
    with make(server, poll_interval=0.1) as backend:
        backend.preflight([spec(3)])
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="storybench.comfyui"):
            result = backend.render(spec(3))
        assert time.monotonic() - t0 < 5
        assert any("websocket dropped" in r.message for r in caplog.records)
        assert pixel(result.image) == expected_color(spec(3).seed)
        assert result.metrics["execution_seconds"] is not None
        deadline = time.monotonic() + 5
        while backend.client.reconnects < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.client.reconnects >= 1
        assert backend.render(spec(4)).width == spec(4).width  # back on the websocket


def test_polling_only_waits_out_the_history_race(server):
    server.history_delay = 0.4  # /history is empty for a while after executing {node: null}
    with make(server, use_websocket=False, poll_interval=0.05) as backend:
        results = [backend.render(spec(i)) for i in range(2)]
    for i, r in enumerate(results):
        assert pixel(r.image) == expected_color(spec(i).seed)
        assert r.metrics["execution_seconds"] is not None  # from status.messages timestamps


def test_server_assigned_prompt_ids_are_followed(server):
    server.honor_prompt_id = False  # messages may arrive before we learn the id: buffered, then replayed
    server.seconds_per_prompt = 0.0
    with make(server) as backend:
        backend.preflight([spec(0)])
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(backend.render, [spec(i) for i in range(4)]))
    for i, r in enumerate(results):
        assert r.metrics["prompt_id"] in server.prompts
        assert pixel(r.image) == expected_color(spec(i).seed)


def test_cancel_deletes_queued_prompts_and_interrupts_the_running_one(server):
    server.seconds_per_prompt = 2.0
    outcomes = []
    with make(server, queue_depth=3) as backend:
        backend.preflight([spec(0)])

        def run(i):
            try:
                backend.render(spec(i))
                outcomes.append("done")
            except Cancelled:
                outcomes.append("cancelled")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while (not server.started_ids or len(server.prompts) < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        t0 = time.monotonic()
        backend.cancel()
        for t in threads:
            t.join(5)
        assert time.monotonic() - t0 < 2
        with pytest.raises(Cancelled):
            backend.render(spec(9))
    running = server.started_ids[0]
    assert outcomes == ["cancelled"] * 3
    assert sorted(server.deleted) == sorted(set(server.prompts) - {running})
    assert {"prompt_id": running} in server.interrupts
    assert len(server.started_ids) == 1


def test_character_sheet_then_reference_panels_with_kontext(server, tmp_path):
    with make(server, workflow="flux1_kontext") as backend:
        assert backend.supports_reference_images
        sheet_spec = spec(0, width=256, height=256, params={"kind": "character_sheet", "grid": 2})
        backend.preflight([spec(1)])
        sheet = backend.render(sheet_spec)
        assert (sheet.width, sheet.height) == (256, 256)
        assert sheet.metrics["cells"] == 4 and sheet.metrics["grid"] == 2
        cell_prompts = [server.prompts[p] for p in sheet.metrics["prompt_ids"]]
        texts = [
            next(n["inputs"]["text"] for n in p.values() if n["class_type"] == "CLIPTextEncode") for p in cell_prompts
        ]
        assert all(t.startswith("character reference sheet") for t in texts) and len(set(texts)) == 4
        seeds = sorted(
            next(n["inputs"]["seed"] for n in p.values() if n["class_type"] == "KSampler") for p in cell_prompts
        )
        assert seeds == [100, 101, 102, 103]
        path = tmp_path / "sheet.png"
        path.write_bytes(sheet.image)
        panel = backend.render(spec(1, reference_images=(str(path),)))
        backend.render(spec(2, reference_images=(str(path),)))
        assert len(server.uploads) == 1  # uploaded once, reused
        sent = server.prompts[panel.metrics["prompt_id"]]
        assert (
            next(n for n in sent.values() if n["class_type"] == "LoadImage")["inputs"]["image"]
            == panel.metrics["reference_image"]
        )
        scene = backend.render(spec(3))  # nobody in the shot: Kontext weights as text-to-image, no sheet prefix
        sent = server.prompts[scene.metrics["prompt_id"]]
        assert not any(n["class_type"] == "LoadImage" for n in sent.values())
        assert next(n for n in sent.values() if n["class_type"] == "CLIPTextEncode")["inputs"]["text"] == "panel 3"
        ident = backend.cache_identity(spec(1, reference_images=(str(path),)))
        assert ident != backend.cache_identity(spec(1)) and "flux1_kontext" in ident


def test_cache_identity_tracks_template_and_settings(server):
    with make(server, workflow="sd15_txt2img") as backend:
        a = backend.cache_identity(spec(0))
        assert a == backend.cache_identity(spec(0))
        assert a != backend.cache_identity(spec(0, params={"steps": 30}))
        assert a != backend.cache_identity(spec(0, params={"workflow": "sdxl_txt2img"}))


def test_unreachable_server_is_backend_unavailable():
    with (
        ComfyUIBackend(url="http://127.0.0.1:9", workflow="empty_image", timeout=2) as backend,
        pytest.raises(BackendUnavailable),
    ):
        backend.preflight([spec(0)])


def test_registry_api_prefix_and_origin(server):
    backend = get_image_backend("comfyui", url=server.url + "/api", workflow="empty_image")
    assert isinstance(backend, ComfyUIBackend)
    with backend:
        assert backend.render(spec(5)).height == 96
    assert httpx.get(server.url + "/system_stats", headers={"Origin": "http://evil.example"}).status_code == 403
    assert httpx.post(server.url + "/prompt", content=b"not json").status_code == 500


def test_server_5xx_is_transient():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="internal error")

    with (
        ComfyUIBackend(
            url="http://comfy.test", workflow="empty_image", transport=httpx.MockTransport(handler), use_websocket=False
        ) as backend,
        pytest.raises(TransientBackendError, match="HTTP 500"),
    ):
        backend.render(spec(0))


def test_gateway_502_is_an_outage_waited_out_until_the_budget():
    """A proxy answering 502/503/504 means the server behind it is down: the render waits
    (probing /system_stats) instead of failing the attempt, until the outage budget."""
    probes = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/system_stats":
            probes.append(request)
        return httpx.Response(502, text="bad gateway")

    with (
        ComfyUIBackend(
            url="http://comfy.test",
            workflow="empty_image",
            transport=httpx.MockTransport(handler),
            use_websocket=False,
            outage_seconds=1.0,
            probe_interval=0.1,
        ) as backend,
        pytest.raises(OutageError, match=r"ComfyUI at http://comfy.test unreachable since \d\d:\d\d:\d\d \(1 s\)"),
    ):
        backend.render(spec(0))
    assert len(probes) >= 5


def test_images_go_to_comfyuis_temp_folder_unless_keep_outputs(server):
    with make(server) as backend:
        result = backend.render(spec(1))
    sent = server.prompts[result.metrics["prompt_id"]]
    assert [n["class_type"] for n in sent.values() if n["class_type"] in ("SaveImage", "PreviewImage")] == [
        "PreviewImage"
    ]
    assert result.metrics["filename"].startswith("ComfyUI_temp_")  # nodes.py: prefix_append "_temp_xxxxx"
    assert server.saved("output") == [] and len(server.saved("temp")) == 1
    server.restart()  # a starting ComfyUI empties temp/ (main.py cleanup_temp): nothing is left behind
    assert server.saved("temp") == []

    with make(server, keep_outputs=True) as backend:
        kept = backend.render(spec(2))
    sent = server.prompts[kept.metrics["prompt_id"]]
    assert "PreviewImage" not in {n["class_type"] for n in sent.values()}
    assert server.saved("output") == [("storybench", kept.metrics["filename"])]
    assert pixel(kept.image) == expected_color(spec(2).seed)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"queue_depth": 0}, "backend option queue_depth: 0; must be at least 1"),
        ({"timeout": "soon"}, "backend option timeout: 'soon'; must be a number"),
        ({"use_websocket": "maybe"}, "backend option use_websocket: 'maybe'; must be true or false"),
        ({"outage_seconds": -1}, "backend option outage_seconds: -1; must be at least 0"),
        ({"queue_dept": 2}, "unknown backend option 'queue_dept'; the ComfyUI backend knows: url, workflow,"),
    ],
)
def test_bad_options_are_one_sentence_naming_option_value_and_what_is_allowed(options, message):
    with pytest.raises(ConfigError) as info:
        ComfyUIBackend(url="http://comfy.test", workflow="empty_image", **options)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=message.split(";")[0]):
        ComfyUIOptions.check(options)  # what the CLI runs on -p backend_options


def test_an_options_object_configures_the_backend_like_keywords(server):
    options = ComfyUIOptions(url=server.url, workflow="empty_image", queue_depth=3, keep_outputs=True)
    with ComfyUIBackend(options) as backend:
        assert backend.options is options and backend.default_concurrency == 3
        result = backend.render(spec(3))
    assert server.saved("output") == [("storybench", result.metrics["filename"])]
    with pytest.raises(ConfigError, match="not both"):
        ComfyUIBackend(options, queue_depth=1)
