"""A local RunPod-compatible serverless endpoint for tests and benches.

``RunPodSim(workers=W, job_seconds=t)`` serves ``/v2/{endpoint_id}/run``,
``/runsync``, ``/status/{id}``, ``/cancel/{id}``, ``/retry/{id}`` and ``/health``
on 127.0.0.1 (ephemeral port) from a thread. W simulated workers take queued jobs
one at a time; a job goes IN_QUEUE → IN_PROGRESS (for ``job_seconds``) → COMPLETED
with ``delayTime``/``executionTime`` in milliseconds, and its output is what
worker-comfyui would return (``tests/worker_handler.handle_input``: real PNGs of the
workflow's size).

Knobs: ``fail_first`` (fraction of distinct request bodies whose first job ends
FAILED with a worker-comfyui node error), ``timeout_first`` (same, TIMED_OUT),
``expire_next`` (that many next completed jobs are forgotten: ``/status`` 404),
``output_type`` (``"base64"`` or ``"s3_url"``: images served from ``/s3/<name>``),
``status_errors`` (that many next ``/status`` calls answer 502), ``api_key`` (other keys get 401),
``node_error_next`` (that many next jobs fail with a node's error), ``cold_next`` (that many next
jobs fail as on a cold worker whose ComfyUI is not up yet), ``api_down`` (every API call answers
503 while true). Everything received is recorded for assertions.

Failures have the shape the real worker-comfyui handler plus the runpod SDK give: the handler
returns ``{"error": "Job processing failed", "details": ["Workflow execution error: Node Type:
..., Node ID: ..., Message: ..."]}``; the SDK (``rp_job.run_job``) pops ``error`` to the job's
top level and keeps the rest as ``output`` (dropped when empty), so ``/status`` answers
``{"status": "FAILED", "error": "Job processing failed", "output": {"details": [...]}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import random
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from worker_handler import handle_input

if TYPE_CHECKING:
    from storybench.render.spec import RenderSpec

RUN_LIMIT = 10 * 1024 * 1024
NODE_ERROR = (
    "Workflow execution error: Node Type: KSampler, Node ID: 31, Message: "
    "mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)"
)
#: A non-memory node failure (a broken checkpoint file).
BAD_NODE_ERROR = (
    "Workflow execution error: Node Type: CheckpointLoaderSimple, Node ID: 4, Message: "
    "Error while deserializing header: HeaderTooLarge"
)
#: What worker-comfyui returns when its ComfyUI is not up yet (a cold worker).
COLD_ERROR = "ComfyUI server (127.0.0.1:8188) not reachable after multiple retries."


def sdk_result(handler_output: dict) -> tuple[str | None, Any]:
    """``(error, output)`` of a job as the runpod SDK reports a handler's dict output:
    ``error`` popped to the top level, the rest as ``output`` unless empty."""
    rest = dict(handler_output)
    error = rest.pop("error", None)
    return error, (rest or None)


class Job:
    def __init__(self, body: dict, raw: bytes) -> None:
        self.id = f"{uuid.uuid4()}-u1"
        self.body = body
        self.digest = hashlib.sha256(raw).hexdigest()
        self.status = "IN_QUEUE"
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self.output: Any = None
        self.error: str | None = None
        self.done = threading.Event()

    def view(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.started is not None:
            data["delayTime"] = int((self.started - self.submitted) * 1000)
        if self.finished is not None and self.started is not None:
            data["executionTime"] = int((self.finished - self.started) * 1000)
            data["workerId"] = "sim-worker"
        if self.output is not None:
            data["output"] = self.output
        if self.error is not None:
            data["error"] = self.error
        return data


class RunPodSim:
    """See the module docstring. Use as a context manager; :attr:`root` is the API root."""

    def __init__(
        self,
        *,
        workers: int = 2,
        job_seconds: float = 0.03,
        api_key: str = "test-key",
        endpoint_id: str = "ep-test",
        fail_first: float = 0.0,
        timeout_first: float = 0.0,
        expire_next: int = 0,
        output_type: str = "base64",
        status_errors: int = 0,
        node_error_next: int = 0,
        cold_next: int = 0,
        seed: int = 7,
    ) -> None:
        self.workers = workers
        self.job_seconds = job_seconds
        self.api_key = api_key
        self.endpoint_id = endpoint_id
        self.fail_first = fail_first
        self.timeout_first = timeout_first
        self.expire_next = expire_next
        self.output_type = output_type
        self.status_errors = status_errors
        self.node_error_next = node_error_next
        self.cold_next = cold_next
        self.api_down = False
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.seen_digests: set[str] = set()
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self.requests: list[dict[str, Any]] = []  # method, path, headers, body bytes
        self.s3: dict[str, bytes] = {}
        self.running = 0
        self.max_running = 0
        self.cancelled: list[str] = []
        self._threads: list[threading.Thread] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True

    # ----------------------------------------------------------------- lifecycle
    @property
    def root(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v2"

    def __enter__(self) -> RunPodSim:
        t = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        self._threads.append(t)
        self._started_workers = self.workers
        for _ in range(self.workers):
            w = threading.Thread(target=self._worker, daemon=True)
            w.start()
            self._threads.append(w)
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in range(self._started_workers):
            self.queue.put(None)
        self.server.shutdown()
        self.server.server_close()

    # ----------------------------------------------------------------- workers
    def _worker(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            with self.lock:
                if job.status != "IN_QUEUE":
                    continue
                job.status = "IN_PROGRESS"
                job.started = time.monotonic()
                self.running += 1
                self.max_running = max(self.max_running, self.running)
                first = job.digest not in self.seen_digests
                self.seen_digests.add(job.digest)
                roll = self.rng.random()
            job.done.wait(self.job_seconds)  # cancel() sets done early
            result = handle_input(job.body.get("input"))
            with self.lock:
                self.running -= 1
                if job.status == "CANCELLED":
                    continue
                job.finished = time.monotonic()
                failure: dict | None = None
                if self.cold_next > 0:
                    self.cold_next -= 1
                    failure = {"error": COLD_ERROR}
                elif self.node_error_next > 0:
                    self.node_error_next -= 1
                    failure = {"error": "Job processing failed", "details": [BAD_NODE_ERROR]}
                elif first and roll < self.fail_first:
                    failure = {"error": "Job processing failed", "details": [NODE_ERROR]}
                if failure is not None:
                    job.status = "FAILED"
                    job.error, job.output = sdk_result(failure)
                elif first and roll < self.fail_first + self.timeout_first:
                    job.status, job.error = "TIMED_OUT", "Job timed out after 600 seconds"
                elif "error" in result:
                    job.status = "FAILED"
                    job.error, job.output = sdk_result(result)
                else:
                    job.status, job.output = "COMPLETED", self._publish(result)
                if self.expire_next > 0:
                    self.expire_next -= 1
                    del self.jobs[job.id]
                job.done.set()

    def _publish(self, output: dict) -> dict:
        if self.output_type != "s3_url":
            return output
        images = []
        for item in output["images"]:
            name = f"{uuid.uuid4().hex}.png"
            self.s3[name] = base64.b64decode(item["data"])
            host, port = self.server.server_address[:2]
            images.append({"filename": item["filename"], "type": "s3_url", "data": f"http://{host}:{port}/s3/{name}"})
        return {"images": images}

    # ----------------------------------------------------------------- HTTP
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body go out as two segments: +40 ms (delayed ACK)

            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self, code: int, data: Any = None, raw: bytes | None = None, ctype: str = "application/json"
            ) -> None:
                body = raw if raw is not None else json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with sim.lock:
                    sim.requests.append(
                        {"method": method, "path": self.path, "headers": dict(self.headers), "body": body}
                    )
                m = re.fullmatch(r"/s3/([0-9a-f]+\.png)", path)
                if m and method == "GET":
                    data = sim.s3.get(m.group(1))
                    return self._send(200, raw=data, ctype="image/png") if data else self._send(404, {"error": "no"})
                prefix = f"/v2/{sim.endpoint_id}"
                if not path.startswith(prefix):
                    return self._send(404, {"error": "endpoint not found"})
                if sim.api_down:
                    return self._send(503, raw=b"upstream connect error", ctype="text/plain")
                if self.headers.get("Authorization") != f"Bearer {sim.api_key}":
                    return self._send(401, {"error": "Unauthorized"})
                op = path[len(prefix) :]
                if method == "POST" and op in ("/run", "/runsync"):
                    if len(body) > RUN_LIMIT and op == "/run":
                        return self._send(413, {"error": "payload too large"})
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        return self._send(400, {"error": "invalid JSON"})
                    if not isinstance(payload, dict) or "input" not in payload:
                        return self._send(400, {"error": "missing input"})
                    job = Job(payload, body)
                    with sim.lock:
                        sim.jobs[job.id] = job
                    sim.queue.put(job)
                    if op == "/runsync":
                        job.done.wait(90)
                        return self._send(200, job.view())
                    return self._send(200, {"id": job.id, "status": "IN_QUEUE"})
                m = re.fullmatch(r"/(status|cancel|retry)/([^/]+)", op)
                if m:
                    action, job_id = m.groups()
                    with sim.lock:
                        if action == "status" and sim.status_errors > 0:
                            sim.status_errors -= 1
                            return self._send(502, {"error": "bad gateway"})
                        job = sim.jobs.get(job_id)
                        if job is None:
                            return self._send(404, {"error": "job not found"})
                        if action == "cancel" and method == "POST":
                            if job.status in ("IN_QUEUE", "IN_PROGRESS"):
                                job.status = "CANCELLED"
                                job.finished = time.monotonic()
                                sim.cancelled.append(job.id)
                                job.done.set()
                        elif action == "retry" and method == "POST":
                            if job.status in ("FAILED", "TIMED_OUT"):
                                job.status, job.error, job.started, job.finished = "IN_QUEUE", None, None, None
                                job.output = None
                                job.done = threading.Event()
                                sim.queue.put(job)
                        elif method != "GET" or action != "status":
                            return self._send(405, {"error": "method not allowed"})
                        return self._send(200, job.view())
                if op == "/health" and method == "GET":
                    with sim.lock:
                        states = [j.status for j in sim.jobs.values()]
                        running = sim.running
                    return self._send(
                        200,
                        {
                            "jobs": {
                                "completed": states.count("COMPLETED"),
                                "failed": states.count("FAILED"),
                                "inProgress": states.count("IN_PROGRESS"),
                                "inQueue": states.count("IN_QUEUE"),
                                "retried": 0,
                            },
                            "workers": {
                                "idle": sim.workers - running,
                                "initializing": 0,
                                "ready": sim.workers - running,
                                "running": running,
                                "throttled": 0,
                                "unhealthy": 0,
                            },
                        },
                    )
                return self._send(404, {"error": f"no route {method} {op}"})

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

        return Handler


def empty_image_builder(spec: RenderSpec, reference_name: str | None) -> dict:
    """An inline API-format workflow: EmptyImage -> SaveImage (+ LoadImage with a reference)."""
    wf = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": spec.width, "height": spec.height, "batch_size": 1, "color": spec.seed & 0xFFFFFF},
        },
        "2": {"class_type": "SaveImage", "inputs": {"filename_prefix": f"sb/{spec.panel_id}", "images": ["1", 0]}},
    }
    if reference_name:
        wf["3"] = {"class_type": "LoadImage", "inputs": {"image": reference_name}}
    return wf
