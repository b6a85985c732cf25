"""The ComfyUI image backend: one panel = one prompt on one of N ComfyUI servers.

``render(spec)`` takes a slot on a server of its pool (:mod:`.pool`), fills the
workflow template for the spec, submits it with that server's websocket client id,
waits for ``executing {node: null}`` of THAT prompt id (websocket, or ``/history``
polling when the socket dropped; :mod:`.prompt`), takes the output node's image
reference from that prompt's ``executed`` message or history entry (so a cached
re-run that reports an old file name still yields the right image), downloads it with
``/view`` and deletes the prompt's ``/history`` entry. The batch engine calls
``render`` from ``default_concurrency`` (= K × servers) threads, so K prompts stay
queued on every server while finished images download.

Outages are not failures: when a server cannot be reached the render waits for it
(or moves to another server) and submits the prompt again if the server forgot it;
only after ``outage_seconds`` without any server does it raise
:class:`~storybench.exceptions.OutageError`. Attempts count real prompt failures only.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import threading
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
)
from storybench.files import sha256_bytes
from storybench.render.base import ImageBackend
from storybench.render.comfyui.client import ComfyUIClient, PromptWatch
from storybench.render.comfyui.errors import BACKEND, describe_node_errors, execution_failed, is_outage
from storybench.render.comfyui.memory import GIB, VramGuard
from storybench.render.comfyui.pool import ComfyServer, ServerPool, parse_urls
from storybench.render.comfyui.preflight import Check, distinct_checks, preflight_pool, server_problems
from storybench.render.comfyui.prompt import PromptLost, collect_prompt, wait_for_prompt
from storybench.render.comfyui.sheet import VARIATIONS, cell_specs, compose_grid, sheet_grid
from storybench.render.comfyui.workflow import WorkflowTemplate
from storybench.render.spec import RenderResult, RenderSpec

__all__ = ["DEFAULT_URL", "DEFAULT_WORKFLOW", "ComfyUIBackend"]

log = logging.getLogger("storybench.comfyui")

DEFAULT_URL = DEFAULT_COMFYUI_URL
DEFAULT_WORKFLOW = "sd15_txt2img"
SHEET_WORKFLOW = "character_sheet"


class ComfyUIBackend(ImageBackend):
    """Render panels on one or several ComfyUI servers through a workflow template.

    Args:
        url: server base URL, or several (a list, or comma-separated) rendering as one
            backend; default ``$STORYBENCH_COMFYUI_URL`` (comma-separated allowed) or
            ``http://127.0.0.1:8188``.
        workflow: template name in ``workflows/`` (``sd15_txt2img`` by default: the most
            widely installed checkpoint family), a path to an API-format ``.json`` with a
            ``.slots.json`` sidecar, or a :class:`WorkflowTemplate`.
        slots: slot mapping for ``workflow`` instead of its sidecar (a dict, see
            :mod:`~storybench.render.comfyui.workflow`).
        sheet_workflow: template for character sheet cells; default ``character_sheet``
            when ``workflow`` takes a reference image, else ``workflow`` itself.
        queue_depth: K, prompts kept queued on each server (>= 1);
            :attr:`default_concurrency` is K × servers.
        vram_threshold_bytes: free VRAM wanted before rendering, bytes (default 2 GiB).
        ollama_host: Ollama base URL whose models are unloaded when VRAM is short.
        http: an :class:`httpx.Client` to use for every HTTP call.
        transport: an httpx transport for the clients created here.
        timeout: HTTP timeout, seconds.
        render_timeout: longest wait for one prompt (queue + execution), seconds.
        history_timeout: how long to wait for ``/history`` after a prompt finished, seconds.
        poll_interval: ``/history`` polling period while the websocket is down, seconds.
        vram_check_interval: minimum seconds between VRAM checks between jobs.
        use_websocket: ``False`` polls ``/history`` only.
        on_progress: callback ``(panel_id, value, max)`` for sampler steps.
        ws_connect: websocket factory for tests (default ``websockets.sync.client.connect``).
        outage_seconds: how long renders wait for unreachable servers before
            :class:`~storybench.exceptions.OutageError`, seconds; default
            ``$STORYBENCH_OUTAGE_SECONDS`` or 600.
        probe_interval: seconds between ``/system_stats`` probes of a server that is down.
        delete_history: delete each finished prompt's ``/history`` entry once its image is fetched.

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
        url: str | Sequence[str] | None = None,
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
        outage_seconds: float | None = None,
        probe_interval: float = 1.0,
        delete_history: bool = True,
    ) -> None:
        if int(queue_depth) < 1:
            raise ConfigError(f"queue_depth: {queue_depth!r}; must be at least 1")
        env = env_settings()
        try:
            self.urls = parse_urls(url or env.comfyui_url)
        except ValueError as exc:
            raise ConfigError(f"url: {url!r}: {exc}") from exc
        self.url = self.urls[0]
        self.queue_depth = int(queue_depth)
        self.default_concurrency = self.queue_depth * len(self.urls)
        self.render_timeout = float(render_timeout)
        self.history_timeout = float(history_timeout)
        self.poll_interval = float(poll_interval)
        self.delete_history = bool(delete_history)
        self.outage_seconds = float(env.outage_seconds if outage_seconds is None else outage_seconds)
        if self.outage_seconds < 0 or probe_interval <= 0:
            raise ConfigError(f"outage_seconds {outage_seconds!r} / probe_interval {probe_interval!r}: out of range")
        self.on_progress = on_progress
        self._templates: dict[str, WorkflowTemplate] = {}
        self.template = self._load(workflow, slots)
        if sheet_workflow is not None:
            self.sheet_template = self._load(sheet_workflow)
        elif self.template.supports_reference:
            self.sheet_template = self._load(SHEET_WORKFLOW)
        else:
            self.sheet_template = self.template
        servers = []
        for server_url in self.urls:
            client = ComfyUIClient(
                server_url,
                http=http,
                transport=transport,
                timeout=timeout,
                use_websocket=use_websocket,
                ws_connect=ws_connect,
            )
            memory = VramGuard(
                client, vram_threshold_bytes, ollama_host=ollama_host, check_interval=vram_check_interval
            )
            servers.append(ComfyServer(server_url, client, memory))
        self.pool = ServerPool(
            servers,
            slots=self.queue_depth,
            outage_seconds=self.outage_seconds,
            probe_interval=probe_interval,
            check=self._check_server,
        )
        # the first server's client and VRAM guard (a one-server backend's only ones)
        self.client = servers[0].client
        self.memory = servers[0].memory
        self._specs: list[RenderSpec] = []
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._oom_lock = threading.Lock()
        self._outstanding: dict[str, tuple[ComfyServer, PromptWatch]] = {}
        self._uploads: dict[tuple[str, str], str] = {}

    @property
    def servers(self) -> list[ComfyServer]:
        """The pool's servers, in the order given."""
        return self.pool.servers

    @property
    def status_text(self) -> str:
        """``waiting for ComfyUI at URL (down 23 s)`` during an outage, else ``""``."""
        return self.pool.status_text()

    def run_identity(self) -> dict[str, Any]:
        """Non-secret options that shape a run: server URLs, workflow and sheet workflow
        (name and content hash). Part of the resume key."""
        return {
            "urls": list(self.urls),
            "workflow": [self.template.name, self.template.content_hash],
            "sheet_workflow": [self.sheet_template.name, self.sheet_template.content_hash],
        }

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
    def _checks(self, specs: Sequence[RenderSpec]) -> list[Check]:
        """One spec per distinct template/settings combination of the batch (plus the sheet template)."""
        sheet = self.sheet_template if self.supports_reference_images else None
        return distinct_checks(specs, self.template_for, sheet)

    def _check_server(self, server: ComfyServer) -> list[str]:
        """The pool's check of a server preflight could not reach, once it answers."""
        return server_problems(server.client, self._checks(self._specs)) if self._specs else []

    def preflight(self, specs: Sequence[RenderSpec]) -> dict[str, Any]:
        """Check the servers can run every spec before anything is queued, then make VRAM room
        (see :func:`~storybench.render.comfyui.preflight.preflight_pool`). Also clears a
        previous :meth:`cancel`.

        Returns:
            The first usable server's ``{"preflight_seconds", "comfyui_version", "devices",
            "workflows", "vram_free_before", "vram_free_after", "free_calls",
            "ollama_unloaded", "websocket"}``, plus ``servers`` (URL → its own result)
            and ``left_out`` (why servers were left out).

        Raises:
            OutageError: no server answered within ``outage_seconds``.
            WorkflowError: no server can run the batch; the message names every missing
                node or model (e.g. ``checkpoint x.safetensors is not installed ...; installed: ...``).
        """
        self._cancel.clear()
        self._specs = list(specs)
        return preflight_pool(self.pool, self._checks(specs), self._cancel)

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

    def _reference(self, server: ComfyServer, spec: RenderSpec) -> str:
        """Upload the spec's first reference image to ``server`` (once per content) and
        return the name to put in its LoadImage node."""
        path = Path(spec.reference_images[0])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentBackendError(BACKEND, f"reference image {path} cannot be read: {exc}") from exc
        digest = sha256_bytes(data)
        with self._lock:
            name = self._uploads.get((server.url, digest))
        if name is None:
            name = server.client.upload_image(data, f"storybench_ref_{digest[:16]}{path.suffix or '.png'}")
            with self._lock:
                self._uploads[(server.url, digest)] = name
        return name

    def _render_one(
        self, spec: RenderSpec, template: WorkflowTemplate, *, use_prompt_template: bool = True
    ) -> RenderResult:
        if template.supports_reference and not spec.reference_images:
            # a panel without a character: Kontext weights as plain text-to-image
            template, use_prompt_template = self.sheet_template, False
        image, metrics, server = self._run(spec, template, use_prompt_template)
        try:
            with Image.open(io.BytesIO(image)) as img:
                width, height = img.size
                mime = Image.MIME.get(img.format or "PNG", "image/png")
        except Exception as exc:
            raise TransientBackendError(
                BACKEND, f"/view returned something that is not an image ({exc})", url=server.url
            ) from exc
        metrics.update({"workflow": template.name, "server": server.url})
        return RenderResult(image=image, mime=mime, width=width, height=height, metrics=metrics)

    def _run(
        self, spec: RenderSpec, template: WorkflowTemplate, use_prompt_template: bool
    ) -> tuple[bytes, dict[str, Any], ComfyServer]:
        """Submit, wait, fetch on some server of the pool: the image bytes, metrics and the server.

        An unreachable server (:func:`~.errors.is_outage`) is not a failure: the prompt waits
        for a server (the same one back, or another) and is submitted again unless the server
        that comes back still has it. A prompt a restarted server forgot (:class:`PromptLost`)
        is submitted again. Neither spends one of the engine's attempts.
        """
        progress = None
        if self.on_progress is not None:
            callback, panel_id = self.on_progress, spec.panel_id
            progress = lambda value, maximum: callback(panel_id, value, maximum)  # noqa: E731
        parked: tuple[ComfyServer, PromptWatch] | None = None  # a prompt on a server that went down
        submissions = outages = 0
        reference: str | None = None
        while True:
            self._check_cancel()
            server = self.pool.acquire(self._cancel, prefer=parked[0] if parked else None)
            watch: PromptWatch | None = None
            finished = False
            try:
                recovering = False
                if parked is not None:
                    old_server, old_watch = parked
                    parked = None
                    if old_server is server:
                        watch = old_watch
                        self._track(server, watch)
                        if server.client.knows(watch.prompt_id):
                            recovering = True  # it survived the outage: keep waiting for it
                        else:
                            self._untrack(watch)
                            server.client.unwatch(watch)
                            watch = None
                    else:
                        old_server.client.unwatch(old_watch)
                memory: dict[str, Any] = {}
                if watch is None:
                    server.client.start()
                    memory = server.memory.between_jobs()
                    reference = self._reference(server, spec) if template.supports_reference else None
                    workflow = template.fill(spec, reference_image=reference, use_prompt_template=use_prompt_template)
                    watch = self._submit(server, workflow, progress)
                    submissions += 1
                entry = wait_for_prompt(
                    server.client,
                    watch,
                    cancel=self._cancel,
                    render_timeout=self.render_timeout,
                    poll_interval=self.poll_interval,
                    recovering=recovering,
                )
                data, metrics = collect_prompt(
                    server.client,
                    watch,
                    entry,
                    template.output_node,
                    template.name,
                    history_timeout=self.history_timeout,
                    fail=functools.partial(self._fail, server, watch),
                )
                finished = True
            except PromptLost:
                log.warning(
                    "ComfyUI at %s no longer has prompt %s (restarted?): submitting it again",
                    server.url,
                    watch.prompt_id if watch is not None else "?",
                )
                continue
            except TransientBackendError as exc:
                if not is_outage(exc):
                    raise
                outages += 1  # an outage, not a failed attempt
                self.pool.mark_down(server, exc)
                if watch is not None:
                    parked = (server, watch)
                continue
            finally:
                if watch is not None:
                    self._untrack(watch)
                    if parked is None or parked[1] is not watch:
                        server.client.unwatch(watch)
                self.pool.release(server, rendered=finished)
            if reference:
                metrics["reference_image"] = reference
            if self.delete_history:
                self._delete_history(server, watch.prompt_id)
            metrics.update(
                {
                    "vram_free_before": memory.get("vram_free_before", server.memory.last_reading),
                    "vram_free_after": memory.get("vram_free_after", server.memory.last_reading),
                    "free_calls": memory.get("free_calls", 0),
                    "submissions": submissions,
                    "outages": outages,
                }
            )
            return data, metrics, server

    def _delete_history(self, server: ComfyServer, prompt_id: str | None = None) -> None:
        """``POST /history {"delete": [...]}`` for a finished prompt whose image is fetched. The
        ids deleted last time are sent once more (deleting is idempotent): a server that writes
        an entry a moment after announcing the prompt finished keeps none of them."""
        with self._lock:
            ids = [*server.deleted_last, *([prompt_id] if prompt_id else [])]
            server.deleted_last = [prompt_id] if prompt_id else []
        if not ids:
            return
        try:
            server.client.delete_history(ids)
        except BackendError as exc:
            log.debug("POST /history delete on %s failed: %s", server.url, exc)

    def _submit(
        self, server: ComfyServer, workflow: dict[str, Any], progress: Callable[[int, int], None] | None
    ) -> PromptWatch:
        """``POST /prompt`` on ``server`` with a watch registered first (so no message is missed)."""
        watch = server.client.watch(str(uuid.uuid4()), on_progress=progress)
        self._track(server, watch)
        self._check_cancel()
        answer = server.client.submit(workflow, watch.prompt_id)
        if answer.get("node_errors"):
            log.warning(
                "prompt %s queued, but some outputs failed validation: %s",
                answer.get("prompt_id"),
                "; ".join(describe_node_errors(answer["node_errors"])),
            )
        if answer.get("prompt_id") and answer["prompt_id"] != watch.prompt_id:
            self._untrack(watch)
            server.client.rekey(watch, answer["prompt_id"])
            self._track(server, watch)
        return watch

    def _track(self, server: ComfyServer, watch: PromptWatch) -> None:
        with self._lock:
            self._outstanding[watch.prompt_id] = (server, watch)

    def _untrack(self, watch: PromptWatch) -> None:
        with self._lock:
            self._outstanding.pop(watch.prompt_id, None)

    def _fail(self, server: ComfyServer, watch: PromptWatch, error: Mapping[str, Any]) -> BackendError | Cancelled:
        if error.get("kind") == "execution_interrupted" or watch.interrupted is not None:
            if self._cancel.is_set():
                return Cancelled(f"ComfyUI prompt {watch.prompt_id} interrupted")
            return TransientBackendError(
                BACKEND, f"prompt {watch.prompt_id} was interrupted on the server (by another client?)", url=server.url
            )
        exc = execution_failed(error, server.url)
        if isinstance(exc, OutOfMemoryError):
            with self._oom_lock:
                # one /free per OOM wave: prompts submitted before the last free do not free again
                if server.memory.last_free_at < watch.submitted_at:
                    try:
                        server.memory.free("out of memory")
                    except BackendError as free_exc:
                        log.warning("POST /free after out-of-memory failed: %s", free_exc)
        return exc

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
            "server": ", ".join(sorted({str(r.metrics.get("server")) for r in results})),
        }
        return RenderResult(image=image, width=spec.width, height=spec.height, metrics=metrics)

    # ------------------------------------------------------------- control
    def cancel(self) -> None:
        """Stop this backend's work on every server: ``POST /queue {"delete": [queued ids]}``,
        ``POST /interrupt`` for the running prompt; waiting renders raise
        :class:`Cancelled` (until the next :meth:`preflight`). Best effort: server
        errors are logged."""
        self._cancel.set()
        with self._lock:
            outstanding = list(self._outstanding.values())
        for server in self.servers:
            watches = [w for s, w in outstanding if s is server]
            running = [w.prompt_id for w in watches if w.started_at is not None and not w.done]
            pending = [w.prompt_id for w in watches if w.started_at is None]
            if not (running or pending) or not server.up:
                continue
            try:
                server.client.delete_queued(pending)
                for prompt_id in running:
                    server.client.interrupt(prompt_id)
            except BackendError as exc:
                log.warning("cancel on %s: %s", server.url, exc)
            log.info(
                "cancelled on %s: deleted %d queued prompt(s), interrupted %d", server.url, len(pending), len(running)
            )
        for _, w in outstanding:
            w.wake()
        self.pool.wake()

    def close(self) -> None:
        """Stop the probes; close every server's websocket and HTTP connections."""
        self.pool.close()
        for server in self.servers:
            if self.delete_history and server.up and server.deleted_last:
                self._delete_history(server)
            server.client.close()
