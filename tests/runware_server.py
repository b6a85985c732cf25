"""A local Runware-compatible websocket server for tests (the messages the ``runware`` SDK sends/expects).

Client → server: a JSON list of tasks, e.g. ``[{"taskType": "authentication", "apiKey": ...}]``,
``[{"taskType": "ping", "ping": true}]``, ``[{"taskType": "imageInference", "taskUUID", "model",
"positivePrompt", "width", "height", "seed", "numberResults", "outputType", "outputFormat",
"includeCost", ...}]``, ``[{"taskType": "promptEnhance", "taskUUID", "prompt", "promptMaxLength",
"promptVersions", "includeCost"}]``.

Server → client: ``{"data": [ {...result, "taskType", "taskUUID"} ]}`` or
``{"errors": [{"code", "message", "parameter"?, "taskType", "taskUUID"?}]}``. Authentication
answers ``{"data": [{"taskType": "authentication", "connectionSessionUUID": ...}]}`` or an
``invalidApiKey`` error. Images are real PNGs of the requested size (colour from the seed);
sizes that are not multiples of 64 within 128..2048 get ``invalidWidth``/``invalidHeight``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import threading
import uuid
from typing import Any

from PIL import Image
from websockets.asyncio.server import serve

AIR = re.compile(r"^[a-z][a-z0-9_-]*:[0-9]+@[0-9]+$")


class RunwareSim:
    """Use as a context manager; :attr:`url` is the ``ws://127.0.0.1:<port>`` URL."""

    def __init__(
        self,
        *,
        api_key: str = "rw-test-key",
        job_seconds: float = 0.02,
        models: tuple[str, ...] = ("runware:101@1", "civitai:101055@128078"),
        fail_next: int = 0,
        fail_code: str = "timeoutProvider",
        image_cost: float = 0.0038,
        enhance_cost: float = 0.0002,
    ) -> None:
        self.api_key = api_key
        self.job_seconds = job_seconds
        self.models = set(models)
        self.fail_next = fail_next
        self.fail_code = fail_code
        self.image_cost = image_cost
        self.enhance_cost = enhance_cost
        self.received: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones
        self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> RunwareSim:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("runware sim did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._session, "127.0.0.1", 0, max_size=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop

    async def _session(self, ws: Any) -> None:
        authed = False
        async for message in ws:
            self.raw.append(message)
            for task in json.loads(message):
                self.received.append(task)
                kind = task.get("taskType")
                if kind == "authentication":
                    if task.get("apiKey") == self.api_key:
                        authed = True
                        await ws.send(
                            json.dumps(
                                {"data": [{"taskType": "authentication", "connectionSessionUUID": str(uuid.uuid4())}]}
                            )
                        )
                    else:
                        await ws.send(
                            json.dumps(
                                {
                                    "errors": [
                                        {
                                            "code": "invalidApiKey",
                                            "taskType": "authentication",
                                            "message": "Invalid API key. Get one at https://my.runware.ai/signup",
                                        }
                                    ]
                                }
                            )
                        )
                elif kind == "ping":
                    await ws.send(json.dumps({"data": [{"taskType": "ping", "pong": True}]}))
                elif not authed:
                    await ws.send(
                        json.dumps(
                            {
                                "errors": [
                                    {
                                        "code": "missingApiKey",
                                        "taskType": kind,
                                        "taskUUID": task.get("taskUUID"),
                                        "message": "Not authenticated",
                                    }
                                ]
                            }
                        )
                    )
                else:
                    t = asyncio.ensure_future(self._task(ws, task))
                    self._tasks.add(t)
                    t.add_done_callback(self._tasks.discard)

    async def _task(self, ws: Any, task: dict[str, Any]) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.job_seconds)
            answer = self._answer(task)
        finally:
            self.in_flight -= 1
        await ws.send(json.dumps(answer))

    def _error(self, task: dict, code: str, message: str, parameter: str | None = None) -> dict:
        err = {"code": code, "message": message, "taskType": task.get("taskType"), "taskUUID": task.get("taskUUID")}
        if parameter:
            err["parameter"] = parameter
        return {"errors": [err]}

    def _answer(self, task: dict[str, Any]) -> dict[str, Any]:
        kind, uid = task.get("taskType"), task.get("taskUUID")
        if self.fail_next > 0:
            self.fail_next -= 1
            return self._error(task, self.fail_code, "The provider did not answer in time; try again")
        if kind == "promptEnhance":
            prompt = str(task["prompt"])
            out = []
            for i in range(int(task.get("promptVersions", 1))):
                item = {
                    "taskType": "promptEnhance",
                    "taskUUID": uid,
                    "text": f"{prompt}, cinematic ink, dramatic rim light v{i}"[: int(task["promptMaxLength"])],
                }
                if task.get("includeCost"):
                    item["cost"] = self.enhance_cost
                out.append(item)
            return {"data": out}
        if kind != "imageInference":
            return self._error(task, "invalidTaskType", f"unknown taskType {kind}", "taskType")
        model = task.get("model")
        if not AIR.match(str(model)) or model not in self.models:
            return self._error(task, "invalidModel", f"Model {model} not found or not supported", "model")
        for side in ("width", "height"):
            v = task.get(side)
            if not isinstance(v, int) or v % 64 or not 128 <= v <= 2048:
                return self._error(
                    task,
                    f"invalid{side.title()}",
                    f"Invalid value for {side}: must be a multiple of 64 between 128 and 2048",
                    side,
                )
        seed = int(task.get("seed") or 0)
        img = Image.new("RGB", (task["width"], task["height"]), ((seed >> 16) & 255, (seed >> 8) & 255, seed & 255))
        buf = io.BytesIO()
        img.save(buf, format=task.get("outputFormat", "PNG").replace("JPG", "JPEG"))
        out = []
        for _ in range(int(task.get("numberResults") or 1)):
            item: dict[str, Any] = {
                "taskType": "imageInference",
                "taskUUID": uid,
                "imageUUID": str(uuid.uuid4()),
                "seed": seed,
                "NSFWContent": False,
            }
            if task.get("outputType") in ("base64Data", ["base64Data"]):
                item["imageBase64Data"] = base64.b64encode(buf.getvalue()).decode()
            else:
                item["imageURL"] = f"https://im.runware.test/image/{item['imageUUID']}.png"
            if task.get("includeCost"):
                item["cost"] = self.image_cost
            out.append(item)
        return {"data": out}
