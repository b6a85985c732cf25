"""Following one submitted prompt on one ComfyUI server until its image is downloaded.

:func:`wait_for_prompt` blocks until the prompt finished: ``executing {node: null}`` on
the websocket, or its ``/history/{id}`` entry while the socket is down or was just
re-opened (a reconnected socket does not replay what was sent meanwhile). After any
reconnect, and every few seconds anyway, it checks that the server still knows the
prompt (``/queue`` or ``/history``): a ComfyUI restarted faster than the socket noticed
has forgotten it, and :class:`PromptLost` tells the caller to submit it again.
:func:`collect_prompt` takes the output node's image reference from the prompt's
``executed`` message or history entry, downloads it with ``/view`` and measures the
server's queue and execution time.

Network failures are raised as they come: the backend decides which are an outage
(:func:`~storybench.render.comfyui.errors.is_outage`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from storybench.exceptions import BackendError, Cancelled, PermanentBackendError, TransientBackendError
from storybench.render.comfyui.client import ComfyUIClient, PromptWatch
from storybench.render.comfyui.errors import BACKEND

__all__ = ["PromptLost", "collect_prompt", "history_error", "history_seconds", "wait_for_prompt"]


class PromptLost(Exception):
    """The server no longer knows a prompt it was given (it restarted): submit it again.
    Internal to the backend; never reaches the engine."""


def history_error(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``execution_error``/``execution_interrupted`` data in a history entry's
    ``status.messages`` (with ``kind`` added), or ``None``."""
    for kind, data in _status_pairs(entry):
        if kind in ("execution_error", "execution_interrupted"):
            return {"kind": kind, **data}
    return None


def history_seconds(entry: Mapping[str, Any]) -> float | None:
    """Server execution time from ``status.messages`` timestamps (ms), execution_start → success/error."""
    start = end = None
    for kind, data in _status_pairs(entry):
        ts = (data or {}).get("timestamp")
        if kind == "execution_start":
            start = ts
        elif kind in _END_KINDS:
            end = ts
    if start is None or end is None:
        return None
    return max(0.0, (end - start) / 1000.0)


_END_KINDS = ("execution_success", "execution_error", "execution_interrupted")


def _status_pairs(entry: Mapping[str, Any]) -> list[Any]:
    """The well-formed ``(kind, data)`` pairs of a history entry's ``status.messages``."""
    messages = (entry.get("status") or {}).get("messages", []) or []
    return [item for item in messages if isinstance(item, (list, tuple)) and len(item) == 2]


def _finished(entry: Mapping[str, Any]) -> bool:
    return bool(entry) and ((entry.get("status") or {}).get("completed") is not None or bool(entry.get("outputs")))


def wait_for_prompt(
    client: ComfyUIClient,
    watch: PromptWatch,
    *,
    cancel: threading.Event,
    render_timeout: float,
    poll_interval: float,
    recovering: bool = False,
) -> dict[str, Any] | None:
    """Block until ``watch``'s prompt finished on ``client``'s server.

    Args:
        client: the server's client.
        watch: the submitted prompt's watch.
        cancel: set → :class:`Cancelled`.
        render_timeout: longest wait, seconds (then the prompt is deleted from the queue).
        poll_interval: ``/history`` polling period while the websocket is down, seconds.
        recovering: the server was just unreachable: poll and check the prompt at once.

    Returns:
        The prompt's history entry when polling found it finished, else ``None``.

    Raises:
        Cancelled: ``cancel`` was set.
        PromptLost: the server forgot the prompt (restarted): submit it again.
        TransientBackendError: ``render_timeout`` passed.
        BackendUnavailable: the server cannot be reached.
    """
    deadline = time.monotonic() + render_timeout
    state = _WaitState.start(client, watch, poll_interval, recovering)
    while not watch.done:
        _still_waiting(client, watch, cancel, deadline, render_timeout)
        socket_up = client.connected.is_set()
        if not state.check_known and _waited_until_done(watch, poll_interval, socket_up):
            break
        now = time.monotonic()
        state.note_reconnects(now)
        if state.should_poll(now, socket_up):
            entry = state.poll(now)
            if entry is not None:
                return entry
    return None


def _waited_until_done(watch: PromptWatch, poll_interval: float, socket_up: bool) -> bool:
    """Wait for the socket's news (briefly while it is down); whether the prompt is done."""
    watch.wait(poll_interval if socket_up else min(poll_interval, 0.25))
    return watch.done


@dataclass
class _WaitState:
    """The bookkeeping of one :func:`wait_for_prompt` call; times are ``time.monotonic()`` seconds."""

    client: ComfyUIClient
    watch: PromptWatch
    poll_interval: float
    last_poll: float
    last_check: float
    seen: tuple[int, int]
    recovering_until: float
    check_known: bool
    check_every: float

    @classmethod
    def start(cls, client: ComfyUIClient, watch: PromptWatch, poll_interval: float, recovering: bool) -> _WaitState:
        """The state at the start of a wait (``recovering``: poll and check the prompt at once)."""
        last_poll = last_check = time.monotonic()
        seen = (client.drops, client.reconnects)
        recovering_until = time.monotonic() + 2.0 if recovering else 0.0
        return cls(
            client=client,
            watch=watch,
            poll_interval=poll_interval,
            last_poll=last_poll,
            last_check=last_check,
            seen=seen,
            recovering_until=recovering_until,
            check_known=recovering,
            check_every=max(10.0, 20 * poll_interval),
        )

    def note_reconnects(self, now: float) -> None:
        """A reconnected socket does not replay what was sent while it was down, and may hide
        a restart: after a drop poll a while, after a reconnect check the server still has the prompt."""
        state = (self.client.drops, self.client.reconnects)
        if state != self.seen:
            self.check_known = self.check_known or state[1] != self.seen[1]
            self.seen, self.recovering_until = state, now + max(2.0, 4 * self.poll_interval)

    def should_poll(self, now: float, socket_up: bool) -> bool:
        """Whether to look at ``/history`` now: socket down, just recovered, periodically, or to check."""
        periodic = now - self.last_poll > max(5.0, 10 * self.poll_interval)
        return not socket_up or now < self.recovering_until or periodic or self.check_known

    def poll(self, now: float) -> dict[str, Any] | None:
        """The prompt's history entry when it finished; else ``None`` after checking, when due,
        that the server still knows it (raises :class:`PromptLost` if not)."""
        self.last_poll = now
        entry = self.client.history(self.watch.prompt_id)
        if _finished(entry):
            self.watch.mark_finished()
            return entry
        if self.check_known or now - self.last_check > self.check_every:
            self.last_check, self.check_known = now, False
            if not self.client.knows(self.watch.prompt_id) and not _finished_soon(
                self.client, self.watch, self.poll_interval
            ):
                raise PromptLost(self.watch.prompt_id)
        return None


def _still_waiting(
    client: ComfyUIClient, watch: PromptWatch, cancel: threading.Event, deadline: float, render_timeout: float
) -> None:
    """Raise :class:`Cancelled` once ``cancel`` is set; past ``deadline`` (monotonic) delete the
    prompt from the queue and raise :class:`TransientBackendError`."""
    if cancel.is_set():
        raise Cancelled(f"ComfyUI prompt {watch.prompt_id} cancelled")
    if time.monotonic() > deadline:
        with contextlib.suppress(BackendError):
            client.delete_queued([watch.prompt_id])
        raise TransientBackendError(
            BACKEND, f"prompt {watch.prompt_id} did not finish within {render_timeout:.0f} s", url=client.url
        )


def _finished_soon(client: ComfyUIClient, watch: PromptWatch, poll_interval: float) -> bool:
    """A prompt neither queued nor in history may have finished a moment ago (its entry is
    written right after): look once more before calling it lost."""
    watch.wait(min(0.5, max(0.1, poll_interval)))
    return watch.done or bool(client.history(watch.prompt_id))


def collect_prompt(
    client: ComfyUIClient,
    watch: PromptWatch,
    entry: dict[str, Any] | None,
    output_node: str,
    workflow_name: str,
    *,
    history_timeout: float,
    fail: Callable[[Mapping[str, Any]], BaseException],
) -> tuple[bytes, dict[str, Any]]:
    """The finished prompt's image bytes and timing metrics.

    Args:
        client: the server's client.
        watch: the prompt's watch.
        entry: its history entry when :func:`wait_for_prompt` found it by polling.
        output_node: node id whose ``images`` hold the result.
        workflow_name: the template's name (for messages).
        history_timeout: how long to wait for ``/history`` after the prompt finished, seconds.
        fail: turns an ``execution_error``/``execution_interrupted`` into the exception to raise.

    Returns:
        ``(image bytes, metrics)``: ``prompt_id``, ``filename``, ``cached``,
        ``download_seconds``, ``queue_seconds`` (submit → execution_start, server queue
        time), ``execution_seconds`` and, when taken from the server's own timestamps,
        ``timing_source: "history"``.

    Raises:
        PermanentBackendError: the prompt finished without images.
        TransientBackendError: no history entry in time; an unreachable server.
        Exception: what ``fail`` returns for a failed prompt.
    """
    if watch.error is not None:
        raise fail(watch.error)
    if watch.interrupted is not None:
        raise fail({"kind": "execution_interrupted", **watch.interrupted})
    images = (watch.outputs.get(output_node) or {}).get("images")
    if not images:
        # the websocket did not carry the output: take it from THIS prompt's history entry
        images, entry = _images_from_history(client, watch, entry, output_node, workflow_name, history_timeout, fail)
    t0 = time.perf_counter()
    data = client.view(images[0])
    metrics: dict[str, Any] = {
        "prompt_id": watch.prompt_id,
        "filename": images[0].get("filename"),
        "cached": output_node in watch.cached_nodes,
        "download_seconds": round(time.perf_counter() - t0, 4),
        **_timings(client, watch, entry, history_timeout),
    }
    return data, metrics


def _images_from_history(
    client: ComfyUIClient,
    watch: PromptWatch,
    entry: dict[str, Any] | None,
    output_node: str,
    workflow_name: str,
    history_timeout: float,
    fail: Callable[[Mapping[str, Any]], BaseException],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The output node's image references from the prompt's ``/history`` entry (written a
    moment after the prompt finished), polled up to ``history_timeout`` seconds, and the
    entry they came from. Raises as :func:`collect_prompt`."""
    deadline = time.monotonic() + history_timeout
    delay = 0.05
    while True:
        if entry is None or (not entry.get("outputs") and not (entry.get("status") or {}).get("status_str")):
            entry = client.history(watch.prompt_id) or None
        images = _entry_images(client, watch, entry, output_node, workflow_name, fail) if entry else None
        if images:
            return images, entry
        if time.monotonic() > deadline:
            raise TransientBackendError(
                BACKEND,
                f"prompt {watch.prompt_id} finished but /history had no entry after {history_timeout:.0f} s",
                url=client.url,
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
        entry = None


def _entry_images(
    client: ComfyUIClient,
    watch: PromptWatch,
    entry: Mapping[str, Any],
    output_node: str,
    workflow_name: str,
    fail: Callable[[Mapping[str, Any]], BaseException],
) -> list[dict[str, Any]] | None:
    """The output node's images in a history ``entry``; ``None`` while it has none yet.

    Raises:
        Exception: what ``fail`` returns, when the entry records a failure.
        PermanentBackendError: the prompt finished (a status is there) without images.
    """
    error = history_error(entry)
    if error is not None:
        raise fail(error)
    images = ((entry.get("outputs") or {}).get(output_node) or {}).get("images")
    if not images and (entry.get("status") or {}).get("status_str"):
        raise PermanentBackendError(
            BACKEND,
            f"prompt {watch.prompt_id} finished without images from output node {output_node} "
            f"of workflow {workflow_name}",
            url=client.url,
        )
    return images or None


def _timings(
    client: ComfyUIClient, watch: PromptWatch, entry: dict[str, Any] | None, history_timeout: float
) -> dict[str, Any]:
    """``queue_seconds`` and ``execution_seconds`` of a finished prompt (plus
    ``timing_source: "history"`` when taken from the server's own timestamps).

    Finished by polling ``/history`` (``entry`` given: the socket was down), the watch's
    finish time is when the poll saw it; started mid-reconnect, no ``execution_start``
    arrived. Then the execution time comes from the server's timestamps instead.
    """
    queue, execution = _socket_timings(watch, entry)
    timings: dict[str, Any] = {}
    if execution is None:
        entry = entry or _finished_entry(client, watch.prompt_id, history_timeout)
        if entry:
            execution = history_seconds(entry)
            timings["timing_source"] = "history"
    if queue is None and execution is not None and watch.finished_at is not None:
        # execution_start was sent while the socket was down: submit → seen finished, minus the
        # server's execution time (an upper bound; no server clock involved)
        queue = round(max(0.0, watch.finished_at - watch.submitted_at - execution), 4)
    return {"queue_seconds": queue, "execution_seconds": execution, **timings}


def _socket_timings(watch: PromptWatch, entry: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """``(queue, execution)`` seconds from the websocket's own messages, ``None`` where they do not tell."""
    queue: float | None = None
    execution: float | None = None
    if watch.started_at is not None and watch.start_seen:
        queue = round(watch.started_at - watch.submitted_at, 4)
        if watch.finished_at is not None and entry is None:
            execution = round(watch.finished_at - watch.started_at, 4)
    return queue, execution


def _finished_entry(client: ComfyUIClient, prompt_id: str, history_timeout: float) -> dict[str, Any] | None:
    """The prompt's ``/history`` entry once it has its status (written a moment after the
    prompt finished), waiting at most ``history_timeout`` (at most 5) seconds; ``None`` on failure."""
    deadline = time.monotonic() + min(history_timeout, 5.0)
    delay = 0.02
    while True:
        try:
            entry = client.history(prompt_id)
        except BackendError:
            return None
        if (entry.get("status") or {}).get("status_str") or time.monotonic() > deadline:
            return entry or None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
