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

The pieces, outermost first (httpx's ``send`` → ``_send_handling_redirects`` →
``_send_single_request``): this module (templates, identity, preflight, sheets, cancel),
:mod:`.recovery` (the outage and resubmit loop), :mod:`.attempt` (one submit, wait,
collect), with :mod:`.options` (the validated options), :mod:`.uploads` (reference images
uploaded once per server), :mod:`.memory` (the VRAM policy) and :mod:`.pool` (servers, slots,
probes) beside them.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from storybench.config import DEFAULT_COMFYUI_URL
from storybench.exceptions import BackendError, ConfigError, TransientBackendError
from storybench.files import sha256_bytes
from storybench.render.base import ImageBackend
from storybench.render.comfyui.attempt import Attempts, InFlight, PanelRequest
from storybench.render.comfyui.client import ComfyUIClient, PromptWatch
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.memory import VramGuard
from storybench.render.comfyui.options import DEFAULT_WORKFLOW, ComfyUIOptions
from storybench.render.comfyui.pool import ComfyServer, ServerPool
from storybench.render.comfyui.preflight import Check, distinct_checks, preflight_pool, server_problems
from storybench.render.comfyui.recovery import render_with_recovery
from storybench.render.comfyui.sheet import VARIATIONS, cell_specs, compose_grid, sheet_grid
from storybench.render.comfyui.uploads import UploadCache
from storybench.render.comfyui.workflow import WorkflowTemplate
from storybench.render.spec import RenderResult, RenderSpec

__all__ = ["DEFAULT_URL", "DEFAULT_WORKFLOW", "ComfyUIBackend"]

log = logging.getLogger("storybench.comfyui")

DEFAULT_URL = DEFAULT_COMFYUI_URL
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
        keep_outputs: keep the images in ComfyUI's ``output/`` folder (the workflow's
            ``SaveImage``); by default the output node is sent as a ``PreviewImage``, whose
            files go to ComfyUI's ``temp/`` folder (emptied at every ComfyUI start).

    The options are keywords, validated by :class:`~.options.ComfyUIOptions` (also the
    ``-p backend_options`` keys), or one :class:`~.options.ComfyUIOptions` given positionally.

    Raises:
        ConfigError: an unknown option, a wrong type or a value out of range (one sentence).
        WorkflowError: the template cannot be loaded or its slots do not resolve.
    """

    name = "comfyui"
    version = "1"
    default_concurrency = 2
    #: Checks JSON options (``-p backend_options``) before anything starts; raises ConfigError.
    check_options = staticmethod(ComfyUIOptions.check)

    def __init__(self, options: ComfyUIOptions | None = None, /, **kw: Any) -> None:
        if options is not None and kw:
            raise ConfigError("give the ComfyUI backend a ComfyUIOptions or keyword options, not both")
        opts = options if options is not None else ComfyUIOptions.of(**kw)
        self.options = opts
        self.urls = opts.server_urls()
        self.url = self.urls[0]
        self.queue_depth = opts.queue_depth
        self.default_concurrency = self.queue_depth * len(self.urls)
        self.outage_seconds = opts.outage_budget()
        self.on_progress = opts.on_progress
        self._templates: dict[str, WorkflowTemplate] = {}
        self.template = self._load(opts.workflow, opts.slots)
        if opts.sheet_workflow is not None:
            self.sheet_template = self._load(opts.sheet_workflow)
        elif self.template.supports_reference:
            self.sheet_template = self._load(SHEET_WORKFLOW)
        else:
            self.sheet_template = self.template
        servers = [self._server(url) for url in self.urls]
        self.pool = ServerPool(
            servers,
            slots=self.queue_depth,
            outage_seconds=self.outage_seconds,
            probe_interval=opts.probe_interval,
            check=self._check_server,
        )
        # the first server's client and VRAM guard (a one-server backend's only ones)
        self.client = servers[0].client
        self.memory = servers[0].memory
        self._specs: list[RenderSpec] = []
        self._cancel = threading.Event()
        self.in_flight = InFlight()
        self.attempts = Attempts(opts, self._cancel, UploadCache(), self.in_flight)

    def _server(self, url: str) -> ComfyServer:
        """One server of the pool: its client and its VRAM guard, from the options."""
        opts = self.options
        client = ComfyUIClient(
            url,
            http=opts.http,
            transport=opts.transport,
            timeout=opts.timeout,
            use_websocket=opts.use_websocket,
            ws_connect=opts.ws_connect,
        )
        memory = VramGuard(
            client,
            opts.vram_threshold_bytes,
            ollama_host=opts.ollama_host,
            check_interval=opts.vram_check_interval,
        )
        return ComfyServer(url, client, memory)

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

    @property
    def max_reference_images(self) -> int:
        """The workflow's reference inputs (``reference_image``, ``reference_image_2``...), at least 1."""
        return max(1, len(self.template.reference_slots))

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
        self.attempts.check_cancel()
        if spec.params.get("kind") == "character_sheet":
            return self._render_sheet(spec)
        return self._render_one(spec, self.template_for(spec))

    def _render_one(
        self, spec: RenderSpec, template: WorkflowTemplate, *, use_prompt_template: bool = True
    ) -> RenderResult:
        if template.supports_reference and not spec.reference_images:
            # a panel without a character: Kontext weights as plain text-to-image
            template, use_prompt_template = self.sheet_template, False
        request = PanelRequest(spec, template, use_prompt_template, self._progress_for(spec))
        image, metrics, server = render_with_recovery(self.pool, self.attempts, request)
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

    def _progress_for(self, spec: RenderSpec) -> Callable[[int, int], None] | None:
        """``on_progress`` bound to ``spec``'s panel id (``None`` without a callback)."""
        callback = self.on_progress
        if callback is None:
            return None
        return functools.partial(callback, spec.panel_id)

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
        outstanding = self.in_flight.snapshot()
        for server in self.servers:
            if server.up:
                _stop_prompts(server, [w for s, w in outstanding if s is server])
        for _, w in outstanding:
            w.wake()
        self.pool.wake()

    def close(self) -> None:
        """Stop the probes; close every server's websocket and HTTP connections."""
        self.pool.close()
        for server in self.servers:
            if self.options.delete_history and server.up and server.deleted_last:
                self.attempts.delete_history(server)
            server.client.close()


def _stop_prompts(server: ComfyServer, watches: Sequence[PromptWatch]) -> None:
    """Delete ``watches``' queued prompts from ``server`` and interrupt its running ones
    (best effort: a server error is logged)."""
    running = [w.prompt_id for w in watches if w.started_at is not None and not w.done]
    pending = [w.prompt_id for w in watches if w.started_at is None]
    if not (running or pending):
        return
    try:
        server.client.delete_queued(pending)
        for prompt_id in running:
            server.client.interrupt(prompt_id)
    except BackendError as exc:
        log.warning("cancel on %s: %s", server.url, exc)
    log.info("cancelled on %s: deleted %d queued prompt(s), interrupted %d", server.url, len(pending), len(running))
