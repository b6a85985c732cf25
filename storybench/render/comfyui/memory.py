"""GPU memory management for a ComfyUI server (and an Ollama server sharing the GPU).

:class:`VramGuard` reads ``/system_stats``; when the free VRAM (the minimum
``vram_free`` over the CUDA/ROCm/XPU devices; a CPU-only server reports type ``cpu``
and counts as ample) is below the threshold it unloads Ollama's models (``GET
/api/ps`` then ``POST /api/generate {"model": m, "keep_alive": 0}`` for each) and
asks ComfyUI to ``POST /free``, then reads the memory again. It never frees or
unloads when memory suffices. Every reading, free and unload is logged on the
``storybench.comfyui`` logger and counted for the render metrics.

Between jobs the memory ComfyUI's own torch allocations hold (its loaded models:
``torch_vram_total - torch_vram_free``) counts as available, because ComfyUI swaps its
own models when it needs room: a batch never unloads the model it renders with just
because that model fills the card. Before the batch (preflight) and after an
out-of-memory error the plain ``vram_free`` is used. After an out-of-memory failure
:meth:`VramGuard.free_after_oom` frees once per wave of failures: prompts submitted before
the last free do not free again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from storybench.exceptions import BackendError
from storybench.render.comfyui.client import ComfyUIClient

__all__ = ["GIB", "VramGuard", "free_vram"]

log = logging.getLogger("storybench.comfyui")

GIB = 1024**3


def free_vram(stats: Mapping[str, Any], *, count_own_models: bool = False) -> int | None:
    """Free VRAM in bytes from a ``/system_stats`` answer: the minimum ``vram_free``
    over non-CPU devices; ``None`` when the server has no GPU (CPU only).

    Args:
        stats: the ``/system_stats`` answer.
        count_own_models: also count what ComfyUI's own torch allocations hold
            (``torch_vram_total - torch_vram_free``: its loaded models) as available,
            since ComfyUI swaps its own models when it needs room.
    """
    values = []
    for d in stats.get("devices", []) or []:
        if str(d.get("type", "")).lower() in ("cpu", ""):
            continue
        value = int(d.get("vram_free", 0))
        if count_own_models:
            value += max(0, int(d.get("torch_vram_total", 0) or 0) - int(d.get("torch_vram_free", 0) or 0))
        values.append(value)
    return min(values) if values else None


def _fmt(value: int | None) -> str:
    return "n/a (cpu)" if value is None else f"{value / GIB:.2f} GiB"


class VramGuard:
    """Keeps enough VRAM free before and between renders.

    Args:
        client: the ComfyUI client.
        threshold_bytes: free VRAM wanted before a render, bytes.
        ollama_host: Ollama base URL (``http://127.0.0.1:11434``); ``None``: no Ollama.
        http: httpx client for Ollama calls (default: the ComfyUI client's).
        check_interval: minimum seconds between two checks in :meth:`between_jobs`.

    Attributes:
        free_calls: how many ``POST /free`` calls were made.
        ollama_unloads: how many Ollama models were unloaded.
    """

    def __init__(
        self,
        client: ComfyUIClient,
        threshold_bytes: int = 2 * GIB,
        *,
        ollama_host: str | None = None,
        http: httpx.Client | None = None,
        check_interval: float = 10.0,
    ) -> None:
        self.client = client
        self.threshold = int(threshold_bytes)
        self.ollama_host = ollama_host.rstrip("/") if ollama_host else None
        self.http = http or client.http
        self.check_interval = check_interval
        self.free_calls = 0
        self.ollama_unloads = 0
        self.last_free_at = 0.0
        self.last_reading: int | None = None
        self._last_check = 0.0
        self._lock = threading.Lock()
        self._oom_lock = threading.Lock()

    def read(self, count_own_models: bool = False) -> int | None:
        """Free VRAM now, bytes (``None``: CPU-only server); see :func:`free_vram`.
        Raises like ``system_stats``."""
        value = free_vram(self.client.system_stats(), count_own_models=count_own_models)
        self.last_reading = value
        return value

    def unload_ollama(self) -> list[str]:
        """Unload every model Ollama holds (``keep_alive: 0``); names unloaded. Failures are logged, not raised."""
        if not self.ollama_host:
            return []
        try:
            running = self.http.get(f"{self.ollama_host}/api/ps", timeout=10).json().get("models", []) or []
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("cannot list Ollama models at %s: %s", self.ollama_host, exc)
            return []
        names = []
        for entry in running:
            model = entry.get("model") or entry.get("name")
            if not model:
                continue
            try:
                self.http.post(f"{self.ollama_host}/api/generate", json={"model": model, "keep_alive": 0}, timeout=30)
            except httpx.HTTPError as exc:
                log.warning("cannot unload Ollama model %s: %s", model, exc)
                continue
            log.info("unloaded Ollama model %s to free VRAM", model)
            names.append(model)
            self.ollama_unloads += 1
        return names

    def free(self, reason: str) -> None:
        """Unload Ollama models and ``POST /free`` to ComfyUI, unconditionally (e.g. after an OOM)."""
        unloaded = self.unload_ollama()
        self.client.free()
        self.free_calls += 1
        self.last_free_at = time.monotonic()
        log.info("POST /free (%s); Ollama models unloaded: %s", reason, ", ".join(unloaded) or "none")

    def free_after_oom(self, submitted_at: float) -> bool:
        """Free memory after a prompt submitted at ``submitted_at`` (``time.monotonic()``) ran
        out of memory, unless a free already happened since it was submitted (one
        ``POST /free`` per wave of out-of-memory failures). Failures are logged, not raised.

        Returns:
            Whether this call freed.
        """
        with self._oom_lock:
            if self.last_free_at >= submitted_at:
                return False
            try:
                self.free("out of memory")
            except BackendError as exc:
                log.warning("POST /free after out-of-memory failed: %s", exc)
                return False
            return True

    def ensure(self, reason: str = "check", *, count_own_models: bool = False) -> dict[str, Any]:
        """Free VRAM if it is below the threshold, and only then.

        Args:
            reason: for the log.
            count_own_models: count ComfyUI's own loaded models as available (see
                :func:`free_vram`); used between jobs so a batch never unloads the model
                it is rendering with.

        Returns:
            ``{"vram_free_before", "vram_free_after", "free_calls", "ollama_unloaded"}``
            (bytes; ``None`` on CPU-only servers).
        """
        with self._lock:
            self._last_check = time.monotonic()
            before = self.read(count_own_models)
            after = before
            unloaded: list[str] = []
            calls = 0
            if before is not None and before < self.threshold:
                log.info("free VRAM %s is below %s (%s): freeing", _fmt(before), _fmt(self.threshold), reason)
                unloaded = self.unload_ollama()
                self.client.free()
                self.free_calls += 1
                calls = 1
                self.last_free_at = time.monotonic()
                after = self._settle(count_own_models)
                log.info(
                    "POST /free done; VRAM free before %s, after %s; Ollama unloaded: %s",
                    _fmt(before),
                    _fmt(after),
                    ", ".join(unloaded) or "none",
                )
                if after is not None and after < self.threshold:
                    log.warning("VRAM still short after freeing: %s free, %s wanted", _fmt(after), _fmt(self.threshold))
            else:
                log.debug("VRAM free %s (%s): enough", _fmt(before), reason)
            return {
                "vram_free_before": before,
                "vram_free_after": after,
                "free_calls": calls,
                "ollama_unloaded": unloaded,
            }

    def _settle(self, count_own_models: bool, wait: float = 2.0) -> int | None:
        """Read again until memory rose above the threshold or ``wait`` seconds passed
        (ComfyUI frees between prompts, not instantly)."""
        deadline = time.monotonic() + wait
        value = self.read(count_own_models)
        while value is not None and value < self.threshold and time.monotonic() < deadline:
            time.sleep(0.2)
            value = self.read(count_own_models)
        return value

    def between_jobs(self) -> dict[str, Any]:
        """:meth:`ensure` (counting ComfyUI's own loaded models as available) at most every
        ``check_interval`` seconds; otherwise ``{}``."""
        if time.monotonic() - self._last_check < self.check_interval:
            return {}
        return self.ensure("between jobs", count_own_models=True)
