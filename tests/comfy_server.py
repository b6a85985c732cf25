"""A local ComfyUI-compatible test server (starlette + uvicorn on 127.0.0.1, ephemeral port).

It follows ComfyUI 0.3.x's HTTP routes and websocket messages (every route also under
``/api/``): ``POST /prompt`` with validation against its ``/object_info`` (400 with
``error`` + ``node_errors``: value_not_in_list, required_input_missing,
value_bigger_than_max, invalid_input_type, return_type_mismatch, invalid_prompt,
prompt_no_outputs; a non-JSON body → 500 text), one prompt executing at a time like a
GPU (``seconds_per_prompt``), messages only to the submitting ``client_id``
(execution_start, execution_cached, executing, progress, executed,
execution_success / execution_error / execution_interrupted, executing ``node:
null``), ``/history`` written ``history_delay`` seconds AFTER the prompt finished,
cached re-runs of an identical prompt (all nodes cached, the OLD file name), real PNGs
of the requested size, ``/view``, ``/upload/image``, ``/queue``, ``/interrupt``,
``/free`` (counted), ``/system_stats`` with a configurable ``vram_free``, a 403 for a
foreign ``Origin``, and fault injection: ``oom_next`` (execution_error with a CUDA OOM),
``drop_ws_next`` (websocket closed right after execution_start, reconnection refused for
``refuse_ws_seconds``).

Restarts: :meth:`ComfyTestServer.stop` then :meth:`ComfyTestServer.start` (or
:meth:`ComfyTestServer.restart`) serves again on the SAME port with what a restarted
ComfyUI has: an empty queue, an empty ``/history``, no execution cache, prompt numbers
from 0 and no websocket; files on "disk" (outputs, uploads) survive, except ``temp/``,
which a starting ComfyUI empties (``main.py: cleanup_temp``): a ``PreviewImage`` output
node saves there as ``ComfyUI_temp_xxxxx_NNNNN_.png`` with ``type: "temp"`` (served by
``/view?type=temp``), a ``SaveImage`` in ``output/`` (``saved()`` lists either). Between the two the
port refuses connections. ``GET /history`` (every entry) and ``POST /history`` with
``{"delete": [ids]}`` or ``{"clear": true}`` work as in ComfyUI (``history_deletes``
records the ids). For timing assertions: ``first_answers`` (monotonic time of the first
HTTP answer after each start), ``prompt_times`` (monotonic time of each ``POST /prompt``)
and ``exec_starts`` (``(prompt_id, monotonic time)`` of each ``execution_start``).

Usage::

    with ComfyTestServer(seconds_per_prompt=0.1) as server:
        server.url  # http://127.0.0.1:PORT
        server.stop(); time.sleep(20); server.start()  # a restart: same URL, nothing queued
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import socket
import string
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import uvicorn
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

GIB = 1024**3
SAMPLERS = ["euler", "euler_ancestral", "heun", "dpmpp_2m", "dpmpp_2m_sde", "ddim", "uni_pc"]
SCHEDULERS = ["normal", "karras", "exponential", "simple", "sgm_uniform", "beta"]
MAX_RES = 16384


def _combo(options: list[str]) -> list[Any]:
    return [list(options), {}]


class ComfyTestServer:
    """The fake server; configure attributes at any time from the test thread.

    Args:
        seconds_per_prompt: execution time of one (uncached) prompt.
        history_delay: seconds between ``executing {node: null}`` and ``/history`` having the entry.
        vram_free, vram_total: bytes reported by ``/system_stats`` (device type ``device_type``).
        vram_after_free: ``vram_free`` after a ``POST /free`` (``None``: unchanged).
        checkpoints, unets, clips, vaes: installed model files (``/object_info`` lists).
    """

    def __init__(
        self,
        *,
        seconds_per_prompt: float = 0.05,
        history_delay: float = 0.05,
        vram_free: int = 20 * GIB,
        vram_total: int = 24 * GIB,
        device_type: str = "cuda",
        vram_after_free: int | None = None,
        checkpoints: tuple[str, ...] = ("v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors"),
        unets: tuple[str, ...] = (
            "flux1-dev.safetensors",
            "flux1-schnell.safetensors",
            "flux1-kontext-dev-fp8.safetensors",
        ),
        clips: tuple[str, ...] = ("clip_l.safetensors", "t5xxl_fp8_e4m3fn.safetensors"),
        vaes: tuple[str, ...] = ("ae.safetensors",),
    ) -> None:
        self.seconds_per_prompt = seconds_per_prompt
        self.history_delay = history_delay
        self.vram_free = vram_free
        self.vram_total = vram_total
        self.device_type = device_type
        self.vram_after_free = vram_after_free
        self.checkpoints, self.unets, self.clips, self.vaes = list(checkpoints), list(unets), list(clips), list(vaes)
        self.honor_prompt_id = True  # False: act like servers that ignore a client-chosen prompt_id
        self.comfy_held = 0  # bytes ComfyUI's own torch allocations hold (loaded models)
        self.oom_next = 0
        self.drop_ws_next = 0
        self.refuse_ws_seconds = 0.0
        # counters and records
        self.free_calls = 0
        self.free_bodies: list[dict[str, Any]] = []
        self.prompt_posts = 0
        self.object_info_calls = 0
        self.interrupts: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.executed_ids: list[str] = []
        self.started_ids: list[str] = []
        self.ws_connections = 0
        self.max_depth = 0
        self.prompts: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}  # (filename, subfolder, type) -> PNG
        self._temp_append = "_temp_xxxxx"
        self.history: dict[str, Any] = {}
        # execution state (touched only on the server loop)
        self._queue: list[tuple[float, str, dict, dict, list]] = []
        self._running: tuple | None = None
        self._number = 0
        self._counter = 0
        self._cache: dict[str, dict[str, Any]] = {}
        self._interrupt = False
        self._sockets: dict[str, WebSocket] = {}
        self._refuse_until = 0.0
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.url = ""
        self.starts = 0
        self.first_answers: list[float] = []
        self.exec_starts: list[tuple[str, float]] = []
        self.prompt_times: list[float] = []
        self.listening: list[float] = []  # monotonic time each start began to accept connections
        self.history_deletes: list[str] = []

    # ------------------------------------------------------------ object_info
    def object_info(self) -> dict[str, Any]:
        def node(required: dict, output: list[str], optional: dict | None = None, output_node: bool = False) -> dict:
            return {
                "input": {"required": required, **({"optional": optional} if optional else {})},
                "output": output,
                "output_node": output_node,
            }

        latent = {
            "width": ["INT", {"default": 512, "min": 16, "max": MAX_RES, "step": 8}],
            "height": ["INT", {"default": 512, "min": 16, "max": MAX_RES, "step": 8}],
            "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}],
        }
        info = {
            "CheckpointLoaderSimple": node({"ckpt_name": _combo(self.checkpoints)}, ["MODEL", "CLIP", "VAE"]),
            "CLIPTextEncode": node({"text": ["STRING", {"multiline": True}], "clip": ["CLIP"]}, ["CONDITIONING"]),
            "KSampler": node(
                {
                    "model": ["MODEL"],
                    "seed": ["INT", {"min": 0, "max": 0xFFFFFFFFFFFFFFFF}],
                    "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
                    "cfg": ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0}],
                    "sampler_name": _combo(SAMPLERS),
                    "scheduler": _combo(SCHEDULERS),
                    "positive": ["CONDITIONING"],
                    "negative": ["CONDITIONING"],
                    "latent_image": ["LATENT"],
                    "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0}],
                },
                ["LATENT"],
            ),
            "EmptyLatentImage": node(latent, ["LATENT"]),
            "EmptySD3LatentImage": node(latent, ["LATENT"]),
            "VAEDecode": node({"samples": ["LATENT"], "vae": ["VAE"]}, ["IMAGE"]),
            "VAEEncode": node({"pixels": ["IMAGE"], "vae": ["VAE"]}, ["LATENT"]),
            "SaveImage": node(
                {"images": ["IMAGE"], "filename_prefix": ["STRING", {"default": "ComfyUI"}]}, [], output_node=True
            ),
            # nodes.py: PreviewImage(SaveImage) saves to temp/ (type "temp"), no filename_prefix input
            "PreviewImage": node({"images": ["IMAGE"]}, [], output_node=True),
            "UNETLoader": node(
                {
                    "unet_name": _combo(self.unets),
                    "weight_dtype": _combo(["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]),
                },
                ["MODEL"],
            ),
            "DualCLIPLoader": node(
                {
                    "clip_name1": _combo(self.clips),
                    "clip_name2": _combo(self.clips),
                    "type": _combo(["sdxl", "sd3", "flux", "hunyuan_video", "hidream"]),
                },
                ["CLIP"],
                optional={"device": _combo(["default", "cpu"])},
            ),
            "VAELoader": node({"vae_name": _combo(self.vaes)}, ["VAE"]),
            "FluxGuidance": node(
                {"conditioning": ["CONDITIONING"], "guidance": ["FLOAT", {"default": 3.5, "min": 0.0, "max": 100.0}]},
                ["CONDITIONING"],
            ),
            "ConditioningZeroOut": node({"conditioning": ["CONDITIONING"]}, ["CONDITIONING"]),
            "ReferenceLatent": node(
                {"conditioning": ["CONDITIONING"]}, ["CONDITIONING"], optional={"latent": ["LATENT"]}
            ),
            "FluxKontextImageScale": node({"image": ["IMAGE"]}, ["IMAGE"]),
            "LoadImage": node({"image": [sorted(self.uploads), {"image_upload": True}]}, ["IMAGE", "MASK"]),
            "EmptyImage": node(
                {
                    "width": ["INT", {"default": 512, "min": 1, "max": MAX_RES}],
                    "height": ["INT", {"default": 512, "min": 1, "max": MAX_RES}],
                    "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}],
                    "color": ["INT", {"default": 0, "min": 0, "max": 0xFFFFFF}],
                },
                ["IMAGE"],
            ),
        }
        for name, entry in info.items():
            entry.update(
                name=name,
                display_name=name,
                category="test",
                python_module="nodes",
                input_order={k: list(v) for k, v in entry["input"].items()},
                output_is_list=[False] * len(entry["output"]),
                output_name=entry["output"],
            )
        return info

    # ------------------------------------------------------------ validation (execution.validate_prompt)
    def validate(self, prompt: Any) -> tuple[dict | None, dict, list[str]]:
        info = self.object_info()
        if not isinstance(prompt, dict):
            return (
                {
                    "type": "invalid_prompt",
                    "message": "Cannot execute because the prompt is not an object.",
                    "details": "",
                    "extra_info": {},
                },
                {},
                [],
            )
        outputs = []
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return (
                    {
                        "type": "invalid_prompt",
                        "message": "Cannot execute because a node is missing the class_type property.",
                        "details": f"Node ID '#{node_id}'",
                        "extra_info": {},
                    },
                    {},
                    [],
                )
            if node["class_type"] not in info:
                return (
                    {
                        "type": "invalid_prompt",
                        "message": f"Cannot execute because node {node['class_type']} does not exist.",
                        "details": f"Node ID '#{node_id}'",
                        "extra_info": {},
                    },
                    {},
                    [],
                )
            if info[node["class_type"]].get("output_node"):
                outputs.append(node_id)
        if not outputs:
            return (
                {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "", "extra_info": {}},
                {},
                [],
            )
        node_errors: dict[str, Any] = {}
        for node_id, node in prompt.items():
            errors = []
            declared = info[node["class_type"]]["input"]
            inputs = node.get("inputs", {})
            for section in ("required", "optional"):
                for name, spec in declared.get(section, {}).items():
                    if name not in inputs:
                        if section == "required":
                            errors.append(
                                {
                                    "type": "required_input_missing",
                                    "message": "Required input is missing",
                                    "details": name,
                                    "extra_info": {"input_name": name},
                                }
                            )
                        continue
                    val = inputs[name]
                    kind = spec[0]
                    conf = spec[1] if len(spec) > 1 else {}
                    extra = {"input_name": name, "input_config": spec, "received_value": val}
                    if isinstance(val, list) and len(val) == 2:
                        src = prompt.get(str(val[0]))
                        if src is None or src.get("class_type") not in info:
                            errors.append(
                                {
                                    "type": "bad_linked_input",
                                    "message": "Bad linked input, must be a length-2 list of [string, int]",
                                    "details": f"{name}",
                                    "extra_info": extra,
                                }
                            )
                            continue
                        out_types = info[src["class_type"]]["output"]
                        rtype = out_types[val[1]] if val[1] < len(out_types) else None
                        expected = kind if isinstance(kind, str) else "COMBO"
                        if rtype != expected:
                            errors.append(
                                {
                                    "type": "return_type_mismatch",
                                    "message": "Return type mismatch between linked nodes",
                                    "details": f"{name}, received_type({rtype}) mismatch input_type({expected})",
                                    "extra_info": {
                                        "input_name": name,
                                        "input_config": spec,
                                        "received_type": rtype,
                                        "linked_node": val,
                                    },
                                }
                            )
                        continue
                    if isinstance(kind, list):
                        if val not in kind:
                            list_info = f"(list of length {len(kind)})" if len(kind) > 20 else str(kind)
                            errors.append(
                                {
                                    "type": "value_not_in_list",
                                    "message": "Value not in list",
                                    "details": f"{name}: '{val}' not in {list_info}",
                                    "extra_info": {
                                        "input_name": name,
                                        "input_config": None if len(kind) > 20 else spec,
                                        "received_value": val,
                                    },
                                }
                            )
                        continue
                    if kind in ("INT", "FLOAT"):
                        try:
                            num = int(val) if kind == "INT" else float(val)
                        except (TypeError, ValueError) as ex:
                            errors.append(
                                {
                                    "type": "invalid_input_type",
                                    "message": f"Failed to convert an input value to a {kind} value",
                                    "details": f"{name}, {val}, {ex}",
                                    "extra_info": extra,
                                }
                            )
                            continue
                        if "min" in conf and num < conf["min"]:
                            errors.append(
                                {
                                    "type": "value_smaller_than_min",
                                    "message": f"Value {num} smaller than min of {conf['min']}",
                                    "details": name,
                                    "extra_info": extra,
                                }
                            )
                        if "max" in conf and num > conf["max"]:
                            errors.append(
                                {
                                    "type": "value_bigger_than_max",
                                    "message": f"Value {num} bigger than max of {conf['max']}",
                                    "details": name,
                                    "extra_info": extra,
                                }
                            )
            if errors:
                node_errors[node_id] = {
                    "errors": errors,
                    "dependent_outputs": list(outputs),
                    "class_type": node["class_type"],
                }
        if node_errors:
            details = "\n".join(f"{e['message']}: {e['details']}" for n in node_errors.values() for e in n["errors"])
            return (
                {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": details,
                    "extra_info": {},
                },
                node_errors,
                outputs,
            )
        return None, {}, outputs

    # ------------------------------------------------------------ messaging
    async def _send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        targets = list(self._sockets.items()) if sid is None else [(sid, self._sockets.get(sid))]
        for key, ws in targets:
            if ws is None:
                continue
            try:
                await ws.send_text(json.dumps({"type": event, "data": data}))
            except Exception:
                self._sockets.pop(key, None)

    def _queue_info(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": len(self._queue) + (1 if self._running else 0)}}

    async def _status(self) -> None:
        await self._send("status", {"status": self._queue_info()}, None)

    # ------------------------------------------------------------ the "GPU"
    def _image_for(self, prompt: dict[str, Any]) -> bytes:
        width = height = 512
        color = None
        text = ""
        for node in prompt.values():
            ct, inp = node["class_type"], node.get("inputs", {})
            if ct in ("EmptyImage", "EmptyLatentImage", "EmptySD3LatentImage"):
                width, height = int(inp["width"]), int(inp["height"])
                if ct == "EmptyImage":
                    color = int(inp.get("color", 0))
            if ct == "CLIPTextEncode" and isinstance(inp.get("text"), str) and not text:
                text = inp["text"]
            if ct == "KSampler":
                text += f" seed={inp.get('seed')}"
        if color is None:
            color = hash(text) & 0xFFFFFF
        img = Image.new("RGB", (width, height), ((color >> 16) & 255, (color >> 8) & 255, color & 255))
        if text:
            ImageDraw.Draw(img).text((4, 4), text[:60], fill=(255 - ((color >> 16) & 255), 255, 255))
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()

    async def _worker(self) -> None:
        assert self._wakeup is not None
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            self._queue.sort(key=lambda item: item[0])
            item = self._queue.pop(0)
            self._running = item
            self.started_ids.append(item[1])
            number, prompt_id, prompt, extra, outputs = item
            sid = extra.get("client_id")
            self._interrupt = False
            await self._status()
            messages: list[list[Any]] = []

            async def msg(event: str, data: dict[str, Any], broadcast: bool = False) -> None:
                data = {**data, "timestamp": int(time.time() * 1000)}
                messages.append([event, data])  # noqa: B023  # awaited within this loop iteration only
                await self._send(event, data, sid)  # noqa: B023  # awaited within this loop iteration only

            self.exec_starts.append((prompt_id, time.monotonic()))
            await msg("execution_start", {"prompt_id": prompt_id})
            key = json.dumps(prompt, sort_keys=True)
            cached = self._cache.get(key)
            await msg("execution_cached", {"nodes": list(prompt) if cached else [], "prompt_id": prompt_id})
            if self.drop_ws_next > 0 and sid in self._sockets:
                self.drop_ws_next -= 1
                self._refuse_until = time.monotonic() + self.refuse_ws_seconds
                ws = self._sockets.pop(sid)
                with contextlib.suppress(Exception):
                    await ws.close()
            success, ui_outputs = True, {}
            if cached is not None:
                for node_id, output in cached.items():
                    ui_outputs[node_id] = output
                    await self._send(
                        "executed",
                        {"node": node_id, "display_node": node_id, "output": output, "prompt_id": prompt_id},
                        sid,
                    )
            else:
                sampler = next((n for n, v in prompt.items() if v["class_type"] == "KSampler"), None)
                ticks = int(prompt[sampler]["inputs"].get("steps", 4)) if sampler else 4
                work_node = sampler or next(iter(prompt))
                # the image is made first and every tick sleeps to an absolute deadline, so one
                # prompt takes seconds_per_prompt (not that plus overheads), like a steady GPU
                t_start = asyncio.get_running_loop().time()
                png = self._image_for(prompt)
                for node_id in prompt:
                    await self._send(
                        "executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}, sid
                    )
                    if node_id != work_node:
                        continue
                    for i in range(ticks):
                        delay = t_start + self.seconds_per_prompt * (i + 1) / ticks - asyncio.get_running_loop().time()
                        await asyncio.sleep(max(0.0, delay))
                        if self._interrupt:
                            break
                        await self._send(
                            "progress", {"value": i + 1, "max": ticks, "prompt_id": prompt_id, "node": node_id}, sid
                        )
                    if self._interrupt:
                        await msg(
                            "execution_interrupted",
                            {
                                "prompt_id": prompt_id,
                                "node_id": node_id,
                                "node_type": prompt[node_id]["class_type"],
                                "executed": [],
                            },
                            broadcast=True,
                        )
                        success = False
                        break
                    if self.oom_next > 0:
                        self.oom_next -= 1
                        await msg(
                            "execution_error",
                            {
                                "prompt_id": prompt_id,
                                "node_id": node_id,
                                "node_type": prompt[node_id]["class_type"],
                                "executed": [],
                                "exception_message": "Allocation on device 0 would exceed allowed memory. "
                                "(out of memory)\n"
                                "Currently allocated     : 22.80 GiB",
                                "exception_type": "torch.OutOfMemoryError",
                                "traceback": ['  File "execution.py"\n'],
                                "current_inputs": {},
                                "current_outputs": [],
                            },
                        )
                        success = False
                        break
                if success:
                    for node_id, node in prompt.items():
                        if node_id not in outputs:
                            continue
                        image = self._save(node, png)
                        output = {"images": [image]}
                        ui_outputs[node_id] = output
                        await self._send(
                            "executed",
                            {"node": node_id, "display_node": node_id, "output": output, "prompt_id": prompt_id},
                            sid,
                        )
                    self._cache[key] = ui_outputs
            if success:
                await msg("execution_success", {"prompt_id": prompt_id})
            self.executed_ids.append(prompt_id)
            self._running = None
            await self._send("executing", {"node": None, "prompt_id": prompt_id}, sid)
            entry = {
                "prompt": [number, prompt_id, prompt, extra, outputs],
                "outputs": ui_outputs,
                "status": {"status_str": "success" if success else "error", "completed": success, "messages": messages},
                "meta": {},
            }
            assert self._loop is not None
            self._loop.call_later(self.history_delay, self.history.__setitem__, prompt_id, entry)
            await self._status()

    def _save(self, node: dict[str, Any], png: bytes) -> dict[str, str]:
        """Store an output node's image as ComfyUI does: ``SaveImage`` in ``output/`` under its
        ``filename_prefix``; ``PreviewImage`` in ``temp/`` as ``ComfyUI_temp_xxxxx_NNNNN_.png``
        (nodes.py: ``prefix_append = "_temp_" + 5 random letters``), emptied at every start."""
        self._counter += 1
        if node["class_type"] == "PreviewImage":
            filename = f"ComfyUI{self._temp_append}_{self._counter:05}_.png"
            self.files[(filename, "", "temp")] = png
            return {"filename": filename, "subfolder": "", "type": "temp"}
        prefix = str(node["inputs"].get("filename_prefix", "ComfyUI"))
        subfolder, _, base = prefix.rpartition("/")
        filename = f"{base}_{self._counter:05}_.png"
        self.files[(filename, subfolder, "output")] = png
        return {"filename": filename, "subfolder": subfolder, "type": "output"}

    def saved(self, kind: str = "output") -> list[tuple[str, str]]:
        """``(subfolder, filename)`` of the images in ``output/`` (or ``temp/``) now."""
        return sorted((sub, name) for name, sub, where in self.files if where == kind)

    # ------------------------------------------------------------ HTTP
    def _app(self) -> Starlette:
        async def post_prompt(request: Request) -> Response:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return PlainTextResponse("500 Internal Server Error\n\nServer got itself in trouble", status_code=500)
            self.prompt_posts += 1
            self.prompt_times.append(time.monotonic())
            if "prompt" not in body:
                return JSONResponse(
                    {
                        "error": {
                            "type": "no_prompt",
                            "message": "No prompt provided",
                            "details": "No prompt provided",
                            "extra_info": {},
                        },
                        "node_errors": {},
                    },
                    status_code=400,
                )
            prompt = body["prompt"]
            prompt_id = str(body.get("prompt_id", uuid.uuid4())) if self.honor_prompt_id else str(uuid.uuid4())
            error, node_errors, outputs = self.validate(prompt)
            if error is not None:
                return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
            self._number += 1
            extra = dict(body.get("extra_data", {}))
            if "client_id" in body:
                extra["client_id"] = body["client_id"]
            self._queue.append((self._number, prompt_id, prompt, extra, outputs))
            self.prompts[prompt_id] = prompt
            self.max_depth = max(self.max_depth, len(self._queue) + (1 if self._running else 0))
            assert self._wakeup is not None
            self._wakeup.set()
            await self._status()
            return JSONResponse({"prompt_id": prompt_id, "number": self._number, "node_errors": {}})

        async def get_history(request: Request) -> Response:
            pid = request.path_params["prompt_id"]
            return JSONResponse({pid: self.history[pid]} if pid in self.history else {})

        async def get_all_history(request: Request) -> Response:
            items = list(self.history.items())
            max_items = request.query_params.get("max_items")
            if max_items:
                items = items[-int(max_items) :]
            return JSONResponse(dict(items))

        async def post_history(request: Request) -> Response:
            # ComfyUI server.py: {"clear": true} empties it, {"delete": [ids]} drops those entries
            body = await request.json()
            if body.get("clear"):
                self.history.clear()
            for pid in body.get("delete", []) or []:
                self.history_deletes.append(pid)
                self.history.pop(pid, None)
            return Response(status_code=200)

        async def get_view(request: Request) -> Response:
            q = request.query_params
            data = self.files.get((q.get("filename", ""), q.get("subfolder", ""), q.get("type", "output")))
            if data is None:
                return Response(status_code=404)
            return Response(data, media_type="image/png")

        async def upload_image(request: Request) -> Response:
            form = await request.form()
            image = form.get("image")
            if image is None or not getattr(image, "filename", None):
                return Response(status_code=400)
            self.uploads[image.filename] = await image.read()
            return JSONResponse({"name": image.filename, "subfolder": "", "type": form.get("type", "input")})

        async def get_queue(request: Request) -> Response:
            running = [list(self._running)] if self._running else []
            return JSONResponse({"queue_running": running, "queue_pending": [list(i) for i in self._queue]})

        async def post_queue(request: Request) -> Response:
            body = await request.json()
            if body.get("clear"):
                self._queue.clear()
            for pid in body.get("delete", []):
                self.deleted.append(pid)
                self._queue[:] = [i for i in self._queue if i[1] != pid]
            return Response(status_code=200)

        async def post_interrupt(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                body = {}
            self.interrupts.append(body)
            pid = body.get("prompt_id")
            if not pid or (self._running and self._running[1] == pid):
                self._interrupt = True
            return Response(status_code=200)

        async def post_free(request: Request) -> Response:
            body = await request.json()
            self.free_calls += 1
            self.free_bodies.append(body)
            if self.vram_after_free is not None:
                self.vram_free = self.vram_after_free
            return Response(status_code=200)

        async def system_stats(request: Request) -> Response:
            return JSONResponse(
                {
                    "system": {
                        "os": "posix",
                        "ram_total": 32 * GIB,
                        "ram_free": 16 * GIB,
                        "comfyui_version": "0.3.64-test",
                        "python_version": "3.11",
                        "pytorch_version": "test",
                        "embedded_python": False,
                        "argv": ["main.py"],
                    },
                    "devices": [
                        {
                            "name": f"{self.device_type}:0 test",
                            "type": self.device_type,
                            "index": 0,
                            "vram_total": self.vram_total,
                            "vram_free": self.vram_free,
                            "torch_vram_total": self.comfy_held,
                            "torch_vram_free": 0,
                        }
                    ],
                }
            )

        async def object_info(request: Request) -> Response:
            self.object_info_calls += 1
            return JSONResponse(self.object_info())

        async def ws_endpoint(ws: WebSocket) -> None:
            if time.monotonic() < self._refuse_until:
                await ws.close()  # before accept: the handshake is refused (HTTP 403)
                return
            await ws.accept()
            sid = ws.query_params.get("clientId") or uuid.uuid4().hex
            self._sockets[sid] = ws
            self.ws_connections += 1
            await ws.send_text(json.dumps({"type": "status", "data": {"status": self._queue_info(), "sid": sid}}))
            try:
                while True:
                    await ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                if self._sockets.get(sid) is ws:
                    self._sockets.pop(sid, None)

        routes: list[Any] = []
        for prefix in ("", "/api"):
            routes += [
                Route(f"{prefix}/prompt", post_prompt, methods=["POST"]),
                Route(f"{prefix}/history/{{prompt_id}}", get_history, methods=["GET"]),
                Route(f"{prefix}/history", get_all_history, methods=["GET"]),
                Route(f"{prefix}/history", post_history, methods=["POST"]),
                Route(f"{prefix}/view", get_view, methods=["GET"]),
                Route(f"{prefix}/upload/image", upload_image, methods=["POST"]),
                Route(f"{prefix}/queue", get_queue, methods=["GET"]),
                Route(f"{prefix}/queue", post_queue, methods=["POST"]),
                Route(f"{prefix}/interrupt", post_interrupt, methods=["POST"]),
                Route(f"{prefix}/free", post_free, methods=["POST"]),
                Route(f"{prefix}/system_stats", system_stats, methods=["GET"]),
                Route(f"{prefix}/object_info", object_info, methods=["GET"]),
                WebSocketRoute(f"{prefix}/ws", ws_endpoint),
            ]

        app = Starlette(routes=routes)
        server = self

        class OriginCheck:
            """ComfyUI's origin_only_middleware: a foreign Origin header gets 403."""

            def __init__(self, app: Any) -> None:
                self.app = app

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                if len(server.first_answers) < server.starts:
                    server.first_answers.append(time.monotonic())
                if scope["type"] == "http":
                    headers = dict(scope.get("headers") or [])
                    origin = headers.get(b"origin", b"").decode()
                    host = headers.get(b"host", b"").decode()
                    if origin and urlparse(origin).netloc != host:
                        await PlainTextResponse("403: Forbidden", status_code=403)(scope, receive, send)
                        return
                await self.app(scope, receive, send)

        return OriginCheck(app)  # type: ignore[return-value]

    # ------------------------------------------------------------ lifecycle
    def _reset(self) -> None:
        """What a (re)started ComfyUI process has: nothing queued, running, cached or in history."""
        self._queue = []
        self._running = None
        self._number = 0
        self._cache = {}
        self._interrupt = False
        self._sockets = {}
        self._refuse_until = 0.0
        self.history = {}
        # main.py cleanup_temp(): a starting ComfyUI deletes its temp/ folder
        self.files = {key: data for key, data in self.files.items() if key[2] != "temp"}
        self._temp_append = "_temp_" + "".join(random.choice(string.ascii_lowercase) for _ in range(5))

    def start(self) -> ComfyTestServer:
        """Serve (again): the first start picks a free port, a restart takes the same one."""
        self._reset()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                sock.bind(("127.0.0.1", self._port))
                break
            except OSError:
                if not self._port or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self._port}"
        self.starts += 1
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            ws="websockets-sansio",
            lifespan="off",
            loop="asyncio",
            ws_ping_interval=None,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._wakeup = asyncio.Event()
            worker = loop.create_task(self._worker())
            started.set()
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                worker.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(worker)
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name="comfy-test-server", daemon=True)
        self._thread.start()
        started.wait(5)
        deadline = time.monotonic() + 5
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        self.listening.append(time.monotonic())
        return self

    def stop(self) -> None:
        """Stop serving, like a killed ComfyUI: sockets close, the port refuses connections,
        what was queued or running is gone. :meth:`start` serves again on the same port."""
        if self._server is not None:
            self._server.should_exit = True
            if self._loop is not None and not self._loop.is_closed():
                for ws in list(self._sockets.values()):
                    with contextlib.suppress(RuntimeError):
                        asyncio.run_coroutine_threadsafe(ws.close(), self._loop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """:meth:`stop`, wait ``down_seconds``, :meth:`start` on the same port."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def __enter__(self) -> ComfyTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # manual use: python tests/comfy_server.py
    with ComfyTestServer(seconds_per_prompt=1.0) as srv:
        print(srv.url, flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
