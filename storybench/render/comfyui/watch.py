"""What the websocket said about one prompt: :class:`PromptWatch`.

The client's reader thread feeds every message addressed to a prompt id to that
prompt's watch (ComfyUI's message kinds, ``server.py``/``execution.py``:
``execution_start``, ``execution_cached``, ``executing`` — ``node: null`` when the prompt
finished —, ``executed`` with the node's ``output``, ``execution_success``,
``execution_error``, ``execution_interrupted``, ``progress``); render threads wait on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PromptWatch"]

log = logging.getLogger("storybench.comfyui")


class PromptWatch:
    """What the websocket said about one prompt id.

    Attributes:
        prompt_id: the prompt id.
        submitted_at: ``time.monotonic()`` when it was submitted.
        started_at: when ``execution_start`` arrived (``None`` until then); when the socket
            missed it (reconnected mid-prompt), when a later message showed it running.
        start_seen: ``execution_start``/``execution_cached`` itself arrived, so ``started_at``
            is the server's start time (not a later message's).
        finished_at: when ``executing`` with ``node: null`` arrived.
        outputs: node id → output dict from ``executed`` messages (``{"images": [...]}``).
        cached_nodes: node ids served from ComfyUI's cache (``execution_cached``).
        error: the ``execution_error`` data, if any.
        interrupted: the ``execution_interrupted`` data, if any.
        success: ``execution_success`` arrived.
        progress: last ``(value, max)`` of a ``progress`` message.
    """

    def __init__(self, prompt_id: str, on_progress: Callable[[int, int], None] | None = None) -> None:
        self.prompt_id = prompt_id
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        self.start_seen = False
        self.finished_at: float | None = None
        self.outputs: dict[str, Any] = {}
        self.cached_nodes: list[str] = []
        self.error: dict[str, Any] | None = None
        self.interrupted: dict[str, Any] | None = None
        self.success = False
        self.progress: tuple[int, int] | None = None
        self.on_progress = on_progress
        self._cond = threading.Condition()
        self._changes = 0

    @property
    def done(self) -> bool:
        """True once the server finished the prompt (``executing`` with ``node: null``)."""
        return self.finished_at is not None

    def feed(self, kind: str, data: Mapping[str, Any]) -> None:
        """Apply one websocket message addressed to this prompt (ComfyUI's ``execution_start``,
        ``execution_cached``, ``executing``, ``executed``, ``execution_success``,
        ``execution_error``, ``execution_interrupted``, ``progress``; others only wake waiters)."""
        now = time.monotonic()
        apply = _APPLY.get(kind)
        with self._cond:
            if apply is not None:
                apply(self, data, now)
            self._changes += 1
            self._cond.notify_all()
        if kind == "progress":
            self._report_progress()

    def _started(self, data: Mapping[str, Any], now: float) -> None:
        self.started_at = self.started_at or now
        self.start_seen = True

    def _cached(self, data: Mapping[str, Any], now: float) -> None:
        self._started(data, now)
        self.cached_nodes = [str(n) for n in data.get("nodes", [])]

    def _executing(self, data: Mapping[str, Any], now: float) -> None:
        self.started_at = self.started_at or now
        if data.get("node") is None:
            self.finished_at = self.finished_at or now

    def _executed(self, data: Mapping[str, Any], now: float) -> None:
        if data.get("node") is not None and data.get("output") is not None:
            self.outputs[str(data["node"])] = data["output"]

    def _succeeded(self, data: Mapping[str, Any], now: float) -> None:
        self.success = True

    def _failed(self, data: Mapping[str, Any], now: float) -> None:
        self.error = dict(data)

    def _interrupted(self, data: Mapping[str, Any], now: float) -> None:
        self.interrupted = dict(data)

    def _stepped(self, data: Mapping[str, Any], now: float) -> None:
        self.progress = (int(data.get("value", 0)), int(data.get("max", 0)))

    def _report_progress(self) -> None:
        progress = self.progress
        if self.on_progress is None or progress is None:
            return
        try:
            self.on_progress(*progress)
        except Exception:  # a UI callback must never break the reader thread
            log.exception("on_progress callback failed")

    def mark_finished(self) -> None:
        """Mark the prompt finished (used when ``/history`` says so)."""
        with self._cond:
            self.finished_at = self.finished_at or time.monotonic()
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake any thread waiting on this watch (cancel, socket drop)."""
        with self._cond:
            self._changes += 1
            self._cond.notify_all()

    def wait(self, timeout: float) -> None:
        """Block until the next message for this prompt (or ``timeout`` seconds)."""
        with self._cond:
            seen = self._changes
            if not self.done:
                self._cond.wait_for(lambda: self._changes != seen or self.done, timeout=timeout)


#: What each websocket message kind changes in a :class:`PromptWatch`.
_APPLY: dict[str, Callable[[PromptWatch, Mapping[str, Any], float], None]] = {
    "execution_start": PromptWatch._started,
    "execution_cached": PromptWatch._cached,
    "executing": PromptWatch._executing,
    "executed": PromptWatch._executed,
    "execution_success": PromptWatch._succeeded,
    "execution_error": PromptWatch._failed,
    "execution_interrupted": PromptWatch._interrupted,
    "progress": PromptWatch._stepped,
}
