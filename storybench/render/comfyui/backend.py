"""The ComfyUI image backend: one panel = one prompt on a ComfyUI server.

``render(spec)`` fills the workflow template for the spec, submits it with the
backend's websocket client id, waits for ``executing {node: null}`` of THAT prompt
id (websocket, or ``/history`` polling when the socket dropped), takes the output
node's image reference from that prompt's ``executed`` message or history entry
(so a cached re-run that reports an old file name still yields the right image) and
downloads it with ``/view``. The batch engine calls ``render`` from
``default_concurrency`` (= queue depth K) threads, so K prompts stay queued on the
server while finished images download.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from storybench.config import DEFAULT_COMFYUI_URL, env_settings
from storybench.exceptions import (
    BackendError,
    Cancelled,
    ConfigError,
    OutOfMemoryError,
    PermanentBackendError,
    TransientBackendError,
    WorkflowError,
)
from storybench.io import sha256_bytes
from storybench.render.base import ImageBackend
from storybench.render.comfyui.client import ComfyUIClient, PromptWatch
from storybench.render.comfyui.errors import BACKEND, describe_node_errors, execution_failed
from storybench.render.comfyui.memory import GIB, VramGuard
from storybench.render.comfyui.sheet import VARIATIONS, cell_specs, compose_grid, sheet_grid
from storybench.render.comfyui.workflow import WorkflowTemplate, check_prompt
from storybench.render.spec import RenderResult, RenderSpec

__all__ = ["DEFAULT_URL", "DEFAULT_WORKFLOW", "ComfyUIBackend"]

log = logging.getLogger("storybench.comfyui")

DEFAULT_URL = DEFAULT_COMFYUI_URL
DEFAULT_WORKFLOW = "sd15_txt2img"
SHEET_WORKFLOW = "character_sheet"


def _history_error(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    for item in (entry.get("status") or {}).get("messages", []) or []:
        if (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and item[0] in ("execution_error", "execution_interrupted")
        ):
            return {"kind": item[0], **item[1]}
    return None


def _history_seconds(entry: Mapping[str, Any]) -> float | None:
    """Server execution time from ``status.messages`` timestamps (ms), execution_start → success/error."""
    start = end = None
    for item in (entry.get("status") or {}).get("messages", []) or []:
        if not (isinstance(item, (list, tuple)) and len(item) == 2):
            continue
        ts = (item[1] or {}).get("timestamp")
        if item[0] == "execution_start":
            start = ts
        elif item[0] in ("execution_success", "execution_error", "execution_interrupted"):
            end = ts
    if start is None or end is None:
        return None
    return max(0.0, (end - start) / 1000.0)


class ComfyUIBackend(ImageBackend):
    """Render panels on a ComfyUI server through a workflow template.

    Args:
        url: server base URL; default ``$STORYBENCH_COMFYUI_URL`` or ``http://127.0.0.1:8188``.
        workflow: template name in ``workflows/`` (``sd15_txt2img`` by default: the most
            widely installed checkpoint family), a path to an API-format ``.json`` with a
            ``.slots.json`` sidecar, or a :class:`WorkflowTemplate`.
        slots: slot mapping for ``workflow`` instead of its sidecar (a dict, see
            :mod:`~storybench.render.comfyui.workflow`).
        sheet_workflow: template for character sheet cells; default ``character_sheet``
            when ``workflow`` takes a reference image, else ``workflow`` itself.
        queue_depth: K, prompts kept queued on the server = :attr:`default_concurrency` (>= 1).
        vram_threshold_bytes: free VRAM wanted before rendering, bytes (default 2 GiB).
        ollama_host: Ollama base URL whose models are unloaded when VRAM is short.
        http: an :class:`httpx.Client` to use for every HTTP call.
        transport: an httpx transport for the client created here.
        timeout: HTTP timeout, seconds.
        render_timeout: longest wait for one prompt (queue + execution), seconds.
        history_timeout: how long to wait for ``/history`` after a prompt finished, seconds.
        poll_interval: ``/history`` polling period while the websocket is down, seconds.
        vram_check_interval: minimum seconds between VRAM checks between jobs.
        use_websocket: ``False`` polls ``/history`` only.
        on_progress: callback ``(panel_id, value, max)`` for sampler steps.
        ws_connect: websocket factory for tests (default ``websockets.sync.client.connect``).

    Raises:
        ConfigError: bad option values.
        WorkflowError: the template cannot be loaded or its slots do not resolve.
    """

    name = "comfyui"
    version = "1"
    default_concurrency = 2

    def __init__(
        self,
        *,
        url: str | None = None,
        workflow: str | os.PathLike[str] | WorkflowTemplate = DEFAULT_WORKFLOW,
        slots: Mapping[str, Any] | None = None,
        sheet_workflow: str | os.PathLike[str] | WorkflowTemplate | None = None,
        queue_depth: int = 2,
        vram_threshold_bytes: int = 2 * GIB,
        ollama_host: str | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        render_timeout: float = 1800.0,
        history_timeout: float = 30.0,
        poll_interval: float = 0.5,
        vram_check_interval: float = 10.0,
        use_websocket: bool = True,
        on_progress: Callable[[str, int, int], None] | None = None,
        ws_connect: Callable[[str], Any] | None = None,
    ) -> None:
        if int(queue_depth) < 1:
            raise ConfigError(f"queue_depth: {queue_depth!r}; must be at least 1")
        self.url = (url or env_settings().comfyui_url).rstrip("/")
        self.queue_depth = int(queue_depth)
        self.default_concurrency = self.queue_depth
        self.render_timeout = float(render_timeout)
        self.history_timeout = float(history_timeout)
        self.poll_interval = float(poll_interval)
        self.on_progress = on_progress
        self._templates: dict[str, WorkflowTemplate] = {}
        self.template = self._load(workflow, slots)
        if sheet_workflow is not None:
            self.sheet_template = self._load(sheet_workflow)
        elif self.template.supports_reference:
            self.sheet_template = self._load(SHEET_WORKFLOW)
        else:
            self.sheet_template = self.template
        self.client = ComfyUIClient(
            self.url,
            http=http,
            transport=transport,
            timeout=timeout,
            use_websocket=use_websocket,
            ws_connect=ws_connect,
        )
        self.memory = VramGuard(
            self.client, vram_threshold_bytes, ollama_host=ollama_host, check_interval=vram_check_interval
        )
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._oom_lock = threading.Lock()
        self._outstanding: dict[str, PromptWatch] = {}
        self._uploads: dict[str, str] = {}

    # ------------------------------------------------------------- templates
    def _load(self, workflow: Any, slots: Mapping[str, Any] | None = None) -> WorkflowTemplate:
        if isinstance(workflow, WorkflowTemplate):
            self._templates.setdefault(workflow.name, workflow)
            return workflow
        key = str(workflow)
        if slots is None and key in self._templates:
            return self._templates[key]
        template = WorkflowTemplate.load(workflow, slots)
        self._templates[key] = template
        return template

    @property
    def supports_reference_images(self) -> bool:
        """True when the workflow has a ``reference_image`` slot (e.g. ``flux1_kontext``):
        the engine then renders character sheets first and passes them as references."""
        return self.template.supports_reference

    def template_for(self, spec: RenderSpec) -> WorkflowTemplate:
        """The template that renders ``spec``: ``params["workflow"]`` when given, the sheet
        template for ``params["kind"] == "character_sheet"``, else the backend's."""
        if spec.params.get("workflow"):
            return self._load(spec.params["workflow"])
        if spec.params.get("kind") == "character_sheet":
            return self.sheet_template
        return self.template

    # ------------------------------------------------------------- identity
    def cache_identity(self, spec: RenderSpec) -> str:
        """Template name + content hash + the slot values that matter (steps, cfg, sampler,
        models...), the sheet grid and the reference images' content hashes."""
        template = self.template_for(spec)
        ident: dict[str, Any] = {"backend": self.version, **template.identity(spec.params)}
        if spec.params.get("kind") == "character_sheet":
            grid = sheet_grid(spec)
            ident["sheet"] = {"grid": grid, "variations": list(VARIATIONS[: grid * grid])}
        refs = []
        for path in spec.reference_images:
            try:
                refs.append(sha256_bytes(Path(path).read_bytes()))
            except OSError:
                refs.append(f"missing:{path}")
        if refs:
            ident["references"] = refs
        return json.dumps(ident, sort_keys=True, separators=(",", ":"))

    # ------------------------------------------------------------- preflight
    def preflight(self, specs: Sequence[RenderSpec]) -> dict[str, Any]:
        """Check the server can run every spec before anything is queued, then make VRAM room.

        Reads ``/system_stats`` and ``/object_info``, fills each distinct template/params
        combination and checks node classes, required inputs and model files; frees VRAM
        only if it is below the threshold; opens the websocket. Also clears a previous
        :meth:`cancel`.

        Returns:
            ``{"preflight_seconds", "comfyui_version", "devices", "workflows",
            "vram_free_before", "vram_free_after", "free_calls", "ollama_unloaded", "websocket"}``.

        Raises:
            BackendUnavailable: the server cannot be reached.
            WorkflowError: the server lacks nodes or models; the message names each
                (e.g. ``checkpoint x.safetensors is not installed ...; installed: ...``).
        """
        t0 = time.perf_counter()
        self._cancel.clear()
        stats = self.client.system_stats()
        object_info = self.client.object_info()
        checks: dict[tuple[str, str], tuple[WorkflowTemplate, RenderSpec]] = {}
        for spec in specs:
            template = self.template_for(spec)
            checks.setdefault(
                (template.name, json.dumps(template.settings(spec.params), sort_keys=True)), (template, spec)
            )
        if self.supports_reference_images and specs:
            first = specs[0]
            sheet = first.model_copy(update={"params": {**first.params, "kind": "character_sheet"}})
            checks.setdefault(
                (self.sheet_template.name, json.dumps(self.sheet_template.settings(sheet.params), sort_keys=True)),
                (self.sheet_template, sheet),
            )
        problems: list[str] = []
        for template, spec in checks.values():
            filled = template.fill(spec)
            for line in check_prompt(
                filled, object_info, template=template, skip=template.slot_inputs(["reference_image"])
            ):
                if f"workflow {template.name}: {line}" not in problems:
                    problems.append(f"workflow {template.name}: {line}")
        if problems:
            raise WorkflowError(
                BACKEND, f"the ComfyUI server at {self.url} cannot run this batch:\n  " + "\n  ".join(problems)
            )
        memory = self.memory.ensure("preflight")
        connected = self.client.start()
        return {
            "preflight_seconds": round(time.perf_counter() - t0, 4),
            "comfyui_version": (stats.get("system") or {}).get("comfyui_version"),
            "devices": [
                {k: d.get(k) for k in ("name", "type", "vram_total", "vram_free")} for d in stats.get("devices", [])
            ],
            "workflows": sorted({t.name for t, _ in checks.values()}),
            "websocket": connected,
            **memory,
        }

    # ------------------------------------------------------------- render
    def render(self, spec: RenderSpec) -> RenderResult:
        """Render one spec (a panel, or a character sheet when ``params["kind"] ==
        "character_sheet"``).

        Returns:
            PNG bytes, size, and metrics: ``prompt_id``, ``workflow``, ``queue_seconds``
            (submit → execution_start), ``execution_seconds`` (execution_start → finished),
            both from websocket messages, or when the socket was down from the server's
            ``/history`` timestamps (``timing_source: "history"``; queue time is then submit →
            seen finished minus execution), ``download_seconds``, ``cached`` (served from ComfyUI's cache),
            ``vram_free_before``/``vram_free_after`` (bytes or ``None``), ``free_calls``;
            for sheets also ``cells`` and ``grid``.

        Raises:
            Cancelled: :meth:`cancel` was called.
            WorkflowError: the server rejected the workflow (node id, class_type, message).
            OutOfMemoryError: the GPU ran out of memory; ComfyUI memory was freed for the retry.
            PermanentBackendError: another node failure.
            TransientBackendError, BackendUnavailable: network trouble, 5xx, timeouts.
        """
        self._check_cancel()
        if spec.params.get("kind") == "character_sheet":
            return self._render_sheet(spec)
        return self._render_one(spec, self.template_for(spec))

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("ComfyUI render cancelled")

    def _reference(self, spec: RenderSpec) -> str:
        path = Path(spec.reference_images[0])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentBackendError(BACKEND, f"reference image {path} cannot be read: {exc}") from exc
        digest = sha256_bytes(data)
        with self._lock:
            name = self._uploads.get(digest)
        if name is None:
            name = self.client.upload_image(data, f"storybench_ref_{digest[:16]}{path.suffix or '.png'}")
            with self._lock:
                self._uploads[digest] = name
        return name

    def _render_one(
        self, spec: RenderSpec, template: WorkflowTemplate, *, use_prompt_template: bool = True
    ) -> RenderResult:
        self.client.start()
        memory = self.memory.between_jobs()
        reference = None
        if template.supports_reference:
            if spec.reference_images:
                reference = self._reference(spec)
            else:
                # a panel without a character: Kontext weights as plain text-to-image
                template, use_prompt_template = self.sheet_template, False
        workflow = template.fill(spec, reference_image=reference, use_prompt_template=use_prompt_template)
        image, metrics = self._run(workflow, template, spec.panel_id)
        try:
            with Image.open(io.BytesIO(image)) as img:
                width, height = img.size
                mime = Image.MIME.get(img.format or "PNG", "image/png")
        except Exception as exc:
            raise TransientBackendError(
                BACKEND, f"/view returned something that is not an image ({exc})", url=self.url
            ) from exc
        metrics.update(
            {
                "vram_free_before": memory.get("vram_free_before", self.memory.last_reading),
                "vram_free_after": memory.get("vram_free_after", self.memory.last_reading),
                "free_calls": memory.get("free_calls", 0),
                "workflow": template.name,
            }
        )
        if reference:
            metrics["reference_image"] = reference
        return RenderResult(image=image, mime=mime, width=width, height=height, metrics=metrics)

    def _run(self, workflow: dict[str, Any], template: WorkflowTemplate, panel_id: str) -> tuple[bytes, dict[str, Any]]:
        """Submit, wait, fetch: the image bytes and timing metrics of one prompt."""
        progress = None
        if self.on_progress is not None:
            callback = self.on_progress
            progress = lambda value, maximum: callback(panel_id, value, maximum)  # noqa: E731
        watch = self.client.watch(str(uuid.uuid4()), on_progress=progress)
        with self._lock:
            self._outstanding[watch.prompt_id] = watch
        try:
            self._check_cancel()
            answer = self.client.submit(workflow, watch.prompt_id)
            if answer.get("node_errors"):
                log.warning(
                    "prompt %s queued, but some outputs failed validation: %s",
                    answer.get("prompt_id"),
                    "; ".join(describe_node_errors(answer["node_errors"])),
                )
            if answer.get("prompt_id") and answer["prompt_id"] != watch.prompt_id:
                with self._lock:
                    self._outstanding.pop(watch.prompt_id, None)
                    self.client.rekey(watch, answer["prompt_id"])
                    self._outstanding[watch.prompt_id] = watch
            entry = self._wait(watch)
            return self._collect(watch, entry, template)
        finally:
            self.client.unwatch(watch)
            with self._lock:
                self._outstanding.pop(watch.prompt_id, None)

    def _wait(self, watch: PromptWatch) -> dict[str, Any] | None:
        """Block until the prompt finished; returns its history entry when polling found it."""
        deadline = time.monotonic() + self.render_timeout
        last_poll = time.monotonic()
        seen = (self.client.drops, self.client.reconnects)
        recovering_until = 0.0
        while not watch.done:
            if self._cancel.is_set():
                raise Cancelled(f"ComfyUI prompt {watch.prompt_id} cancelled")
            if time.monotonic() > deadline:
                with contextlib.suppress(BackendError):
                    self.client.delete_queued([watch.prompt_id])
                raise TransientBackendError(
                    BACKEND, f"prompt {watch.prompt_id} did not finish within {self.render_timeout:.0f} s", url=self.url
                )
            socket_up = self.client.connected.is_set()
            watch.wait(self.poll_interval if socket_up else min(self.poll_interval, 0.25))
            if watch.done:
                break
            now = time.monotonic()
            state = (self.client.drops, self.client.reconnects)
            if state != seen:
                # a reconnected socket does not replay what was sent while it was down: keep
                # polling a while after a drop or reconnect (the prompt may have finished unseen,
                # its /history entry written a moment later)
                seen, recovering_until = state, now + max(2.0, 4 * self.poll_interval)
            # poll when the socket is down or was just re-opened, and every few seconds anyway
            # in case a message was lost
            if not socket_up or now < recovering_until or now - last_poll > max(5.0, 10 * self.poll_interval):
                last_poll = now
                entry = self.client.history(watch.prompt_id)
                if entry and ((entry.get("status") or {}).get("completed") is not None or entry.get("outputs")):
                    watch.mark_finished()
                    return entry
        return None

    def _fail(self, watch: PromptWatch, error: Mapping[str, Any]) -> BackendError | Cancelled:
        if error.get("kind") == "execution_interrupted" or watch.interrupted is not None:
            if self._cancel.is_set():
                return Cancelled(f"ComfyUI prompt {watch.prompt_id} interrupted")
            return TransientBackendError(
                BACKEND, f"prompt {watch.prompt_id} was interrupted on the server (by another client?)", url=self.url
            )
        exc = execution_failed(error, self.url)
        if isinstance(exc, OutOfMemoryError):
            with self._oom_lock:
                # one /free per OOM wave: prompts submitted before the last free do not free again
                if self.memory.last_free_at < watch.submitted_at:
                    try:
                        self.memory.free("out of memory")
                    except BackendError as free_exc:
                        log.warning("POST /free after out-of-memory failed: %s", free_exc)
        return exc

    def _collect(
        self, watch: PromptWatch, entry: dict[str, Any] | None, template: WorkflowTemplate
    ) -> tuple[bytes, dict[str, Any]]:
        if watch.error is not None:
            raise self._fail(watch, watch.error)
        if watch.interrupted is not None:
            raise self._fail(watch, {"kind": "execution_interrupted", **watch.interrupted})
        node = template.output_node
        images = (watch.outputs.get(node) or {}).get("images")
        deadline = time.monotonic() + self.history_timeout
        delay = 0.05
        while not images:
            # the websocket did not carry the output: take it from THIS prompt's history entry
            # (written a moment after the prompt finished)
            if entry is None or (not entry.get("outputs") and not (entry.get("status") or {}).get("status_str")):
                entry = self.client.history(watch.prompt_id) or None
            if entry:
                error = _history_error(entry)
                if error is not None:
                    raise self._fail(watch, error)
                images = ((entry.get("outputs") or {}).get(node) or {}).get("images")
                if not images and (entry.get("status") or {}).get("status_str"):
                    raise PermanentBackendError(
                        BACKEND,
                        f"prompt {watch.prompt_id} finished without images from "
                        f"output node {node} of workflow {template.name}",
                        url=self.url,
                    )
            if images:
                break
            if time.monotonic() > deadline:
                raise TransientBackendError(
                    BACKEND,
                    f"prompt {watch.prompt_id} finished but /history had no entry after {self.history_timeout:.0f} s",
                    url=self.url,
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            entry = None
        t0 = time.perf_counter()
        data = self.client.view(images[0])
        metrics: dict[str, Any] = {
            "prompt_id": watch.prompt_id,
            "filename": images[0].get("filename"),
            "cached": node in watch.cached_nodes,
            "download_seconds": round(time.perf_counter() - t0, 4),
            "queue_seconds": None,
            "execution_seconds": None,
        }
        # finished by polling /history (the socket was down): the watch's finish time is when the
        # poll saw it; started mid-reconnect: no execution_start. Then the execution time comes
        # from the server's own timestamps instead
        polled = entry is not None
        if watch.started_at is not None and watch.start_seen:
            metrics["queue_seconds"] = round(watch.started_at - watch.submitted_at, 4)
            if watch.finished_at is not None and not polled:
                metrics["execution_seconds"] = round(watch.finished_at - watch.started_at, 4)
        if metrics["execution_seconds"] is None:
            if entry is None:
                entry = self._finished_entry(watch.prompt_id)
            if entry:
                metrics["execution_seconds"] = _history_seconds(entry)
                metrics["timing_source"] = "history"
        if (
            metrics["queue_seconds"] is None
            and metrics["execution_seconds"] is not None
            and watch.finished_at is not None
        ):
            # execution_start was sent while the socket was down: submit → seen finished, minus the
            # server's execution time (an upper bound; no server clock involved)
            metrics["queue_seconds"] = round(
                max(0.0, watch.finished_at - watch.submitted_at - metrics["execution_seconds"]), 4
            )
        return data, metrics

    def _finished_entry(self, prompt_id: str) -> dict[str, Any] | None:
        """The prompt's ``/history`` entry once it has its status (written a moment after the
        prompt finished), waiting at most ``history_timeout`` (at most 5) seconds; ``None`` on failure."""
        deadline = time.monotonic() + min(self.history_timeout, 5.0)
        delay = 0.02
        while True:
            try:
                entry = self.client.history(prompt_id)
            except BackendError:
                return None
            if (entry.get("status") or {}).get("status_str") or time.monotonic() > deadline:
                return entry or None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _render_sheet(self, spec: RenderSpec) -> RenderResult:
        grid = sheet_grid(spec)
        template = self.template_for(spec)
        cells = cell_specs(spec, grid)
        with ThreadPoolExecutor(max_workers=self.queue_depth, thread_name_prefix="comfyui-sheet") as pool:
            results = list(pool.map(lambda c: self._render_one(c, template), cells))
        image = compose_grid([r.image for r in results], grid, spec.width, spec.height)
        metrics = {
            "kind": "character_sheet",
            "grid": grid,
            "cells": len(cells),
            "cell_size": [cells[0].width, cells[0].height],
            "workflow": template.name,
            "prompt_ids": [r.metrics.get("prompt_id") for r in results],
            "queue_seconds": results[0].metrics.get("queue_seconds"),
            "execution_seconds": round(sum(r.metrics.get("execution_seconds") or 0.0 for r in results), 4),
            "vram_free_before": results[0].metrics.get("vram_free_before"),
            "vram_free_after": results[-1].metrics.get("vram_free_after"),
            "free_calls": sum(r.metrics.get("free_calls", 0) for r in results),
            "cached": all(r.metrics.get("cached") for r in results),
        }
        return RenderResult(image=image, width=spec.width, height=spec.height, metrics=metrics)

    # ------------------------------------------------------------- control
    def cancel(self) -> None:
        """Stop this backend's work: ``POST /queue {"delete": [queued ids]}``,
        ``POST /interrupt`` for the running prompt; waiting renders raise
        :class:`Cancelled` (until the next :meth:`preflight`). Best effort: server
        errors are logged."""
        self._cancel.set()
        with self._lock:
            watches = list(self._outstanding.values())
        running = [w.prompt_id for w in watches if w.started_at is not None and not w.done]
        pending = [w.prompt_id for w in watches if w.started_at is None]
        try:
            self.client.delete_queued(pending)
            for prompt_id in running:
                self.client.interrupt(prompt_id)
        except BackendError as exc:
            log.warning("cancel: %s", exc)
        log.info("cancelled: deleted %d queued prompt(s), interrupted %d", len(pending), len(running))
        for w in watches:
            w.wake()

    def close(self) -> None:
        """Close the websocket and HTTP connections."""
        self.client.close()
