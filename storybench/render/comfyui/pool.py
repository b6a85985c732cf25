"""The ComfyUI servers of one backend: which answer, which may run the batch, and outages.

A :class:`ServerPool` holds one :class:`ComfyServer` per URL (its client, its VRAM guard,
its prompts in flight). A render takes a slot on the usable server with the fewest prompts
in flight (at most ``slots`` = K per server, so every GPU keeps K prompts queued) and gives
it back when done.

Outages: when a call to a server fails because it cannot be reached (connection refused
or dropped, timeout, 502/503/504: :func:`~storybench.render.comfyui.errors.is_outage`), the
backend calls :meth:`ServerPool.mark_down`. Every change of a server is logged as a
warning on ``storybench.comfyui`` with ``server`` and ``server_state`` (``down``, ``up``,
``left_out``) as record attributes, so a progress display can follow them
(:mod:`storybench.batch.progress_feed`). Nothing is submitted to that server any more;
a probe thread polls ``GET /system_stats`` every ``probe_interval`` seconds (about once a
second) and marks the server up again at its first answer, waking every waiting render at
once. While no usable server answers, :meth:`ServerPool.acquire` waits; past
``outage_seconds`` since the last server stopped answering it raises
:class:`~storybench.exceptions.OutageError` (one message: "ComfyUI at URL unreachable since
HH:MM:SS (N s)"). Waiting is not a failed attempt: the engine's retries are never spent on it.

A server that preflight could not reach is checked (nodes and models) when it first
answers; one that lacks what the batch needs is left out with one warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from storybench.exceptions import BackendError, Cancelled, OutageError, WorkflowError
from storybench.render.comfyui.client import ComfyUIClient
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.memory import VramGuard

__all__ = ["ComfyServer", "ServerPool", "parse_urls"]

log = logging.getLogger("storybench.comfyui")


def parse_urls(value: str | Sequence[str]) -> list[str]:
    """Server URLs from one URL, a comma-separated list (``STORYBENCH_COMFYUI_URL``) or a list;
    trailing slashes removed, duplicates dropped, order kept.

    Raises:
        ValueError: no URL given.
    """
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    urls: list[str] = []
    for item in items:
        url = item.strip().rstrip("/")
        if url and url not in urls:
            urls.append(url)
    if not urls:
        raise ValueError("no ComfyUI URL given")
    return urls


def _short_reason(reason: BaseException | str) -> str:
    """Why a server is down, for a log line: a backend error's message without its backend
    tag, URL and hint (``cannot connect (ConnectError: [Errno 111] Connection refused)``)."""
    text = str(reason)
    if isinstance(reason, BackendError):
        text = text.removeprefix(f"[{reason.backend}] ").split(" (url: ", 1)[0].split("; check: ", 1)[0]
    return text


class ComfyServer:
    """One ComfyUI server of a pool.

    Attributes:
        url: its base URL.
        client: its :class:`ComfyUIClient` (HTTP + one websocket).
        memory: its :class:`VramGuard` (``/system_stats``, ``/free``, Ollama unload).
        in_flight: renders holding one of its slots.
        up: it answered the last call (``False`` from :meth:`ServerPool.mark_down` until a probe answers).
        down_since: when it stopped answering, seconds since the epoch (``None`` while up).
        left_out: why preflight left it out of this batch (``None``: usable).
        needs_check: preflight could not reach it; check it when it answers.
        rendered: prompts it finished for this backend.
    """

    def __init__(self, url: str, client: ComfyUIClient, memory: VramGuard) -> None:
        self.url = url
        self.client = client
        self.memory = memory
        self.in_flight = 0
        self.up = True
        self.down_since: float | None = None
        self.down_mono: float | None = None
        self.left_out: str | None = None
        self.needs_check = False
        self.rendered = 0
        self.deleted_last: list[str] = []  # /history ids deleted last (sent again with the next delete)
        self.lock = threading.Lock()  # guards deleted_last
        self.prober: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "left out" if self.left_out else ("up" if self.up else "down")
        return f"ComfyServer({self.url!r}, {state}, in_flight={self.in_flight})"


class ServerPool:
    """The servers of one backend, their slots and their outages (see the module docstring).

    Attributes:
        answered: some server has answered (preflight or a finished prompt): from then on an
            unreachable pool is an outage to wait out.

    Args:
        servers: the servers, in the order given by the user.
        slots: K, prompts kept in flight on each server (>= 1).
        outage_seconds: longest wait for an unreachable pool before :class:`OutageError`, seconds.
        probe_interval: seconds between ``/system_stats`` probes of a server that is down.
        check: called with a server that preflight could not reach, when it answers again:
            the problems that keep it from running the batch (``[]``: none).
    """

    def __init__(
        self,
        servers: Sequence[ComfyServer],
        *,
        slots: int,
        outage_seconds: float,
        probe_interval: float = 1.0,
        check: Callable[[ComfyServer], list[str]] | None = None,
    ) -> None:
        self.servers = list(servers)
        self.slots = max(1, int(slots))
        self.outage_seconds = float(outage_seconds)
        self.probe_interval = float(probe_interval)
        self.check = check
        self._cv = threading.Condition()
        self._closing = threading.Event()
        self._expired: tuple[list[str], float, float] | None = None  # the outage that ran past the budget
        self.answered = False  # some server of the pool has answered (so a failure later is an outage)

    # ------------------------------------------------------------------ state
    @property
    def usable(self) -> list[ComfyServer]:
        """Servers not left out by preflight."""
        return [s for s in self.servers if s.left_out is None]

    def _outage(self) -> tuple[float, float] | None:
        """``(since_epoch, seconds)`` while every usable server is down, else ``None``."""
        usable = self.usable
        if not usable or any(s.up for s in usable):
            return None
        last = max(usable, key=lambda s: s.down_mono or 0.0)
        return last.down_since or time.time(), time.monotonic() - (last.down_mono or time.monotonic())

    def _expire(self) -> OutageError:
        """The one error of an outage past the budget: the same text for every render that
        meets it, until a server answers again (so the run reports it once)."""
        if self._expired is None:
            state = self._outage()
            since, waited = state if state else (time.time(), 0.0)
            urls = [s.url for s in self.usable] or [s.url for s in self.servers]
            self._expired = (urls, since, waited)
        urls, since, waited = self._expired
        return OutageError(BACKEND, "ComfyUI", urls, since, waited)

    def status_text(self) -> str:
        """What the progress display should say about the servers (``""`` when all is well):
        ``waiting for ComfyUI at URL (down 23 s)`` while every server is down."""
        with self._cv:
            down = [s for s in self.usable if not s.up]
            if not down:
                return ""
            now = time.monotonic()
            parts = ", ".join(f"{s.url} (down {now - (s.down_mono or now):.0f} s)" for s in down)
            if len(down) == len(self.usable):
                return f"waiting for ComfyUI at {parts}"
            return f"ComfyUI at {parts}; rendering on the others"

    # ------------------------------------------------------------------ slots
    def acquire(self, cancel: threading.Event, prefer: ComfyServer | None = None) -> ComfyServer:
        """Take a slot on a usable server that answers, waiting through outages.

        Args:
            cancel: set → :class:`Cancelled`.
            prefer: take this server when it has a free slot (a prompt coming back to it).

        Returns:
            The server; give the slot back with :meth:`release`.

        Raises:
            Cancelled: ``cancel`` was set.
            OutageError: every usable server has been unreachable for ``outage_seconds``.
            WorkflowError: preflight left every server out.
        """
        with self._cv:
            while True:
                _check_cancel(cancel)
                pick = self._take_free(prefer)
                if pick is not None:
                    return pick
                self._check_outage()
                self._cv.wait(0.25)

    def _take_free(self, prefer: ComfyServer | None) -> ComfyServer | None:
        """A slot on an answering usable server with room (``prefer`` when it is one, else the
        least busy); ``None`` while there is none. Raises WorkflowError when no server is usable."""
        usable = self.usable
        if not usable:
            raise WorkflowError(
                BACKEND,
                "no ComfyUI server can run this batch: " + "; ".join(str(s.left_out) for s in self.servers),
            )
        free = [s for s in usable if s.up and s.in_flight < self.slots]
        if not free:
            return None
        pick = prefer if prefer in free else min(free, key=lambda s: s.in_flight)
        pick.in_flight += 1
        return pick

    def _check_outage(self) -> None:
        """Raise :class:`OutageError` once every usable server has been unreachable for ``outage_seconds``."""
        outage = self._outage()
        if outage is not None and outage[1] > self.outage_seconds:
            raise self._expire()

    def release(self, server: ComfyServer, *, rendered: bool = False) -> None:
        """Give back a slot taken by :meth:`acquire` (``rendered``: a prompt finished there)."""
        with self._cv:
            server.in_flight = max(0, server.in_flight - 1)
            if rendered:
                server.rendered += 1
                self.answered = True
            self._cv.notify_all()

    def wait_until_up(self, cancel: threading.Event) -> None:
        """Block until some usable server answers (preflight at a moment all are down).

        Raises:
            Cancelled, OutageError: as :meth:`acquire`.
        """
        with self._cv:
            while True:
                _check_cancel(cancel)
                if any(s.up for s in self.usable) or not self.usable:
                    return
                self._check_outage()
                self._cv.wait(0.25)

    # ------------------------------------------------------------------ health
    def mark_down(self, server: ComfyServer, reason: BaseException | str) -> None:
        """Stop sending work to ``server`` and probe it until it answers again."""
        with self._cv:
            if not server.up:
                return
            server.up = False
            server.down_since = time.time()
            server.down_mono = time.monotonic()
            everyone = all(not s.up for s in self.usable)
            state = {"server": server.url, "server_state": "down"}
            reason = _short_reason(reason)
            if everyone:
                log.warning(
                    "waiting for ComfyUI at %s: it stopped answering (%s); giving up after %.0f s",
                    server.url,
                    reason,
                    self.outage_seconds,
                    extra=state,
                )
            else:
                log.warning(
                    "ComfyUI at %s stopped answering (%s); its prompts move to the other servers",
                    server.url,
                    reason,
                    extra=state,
                )
            if server.prober is None or not server.prober.is_alive():
                server.prober = threading.Thread(target=self._probe, args=(server,), name="comfyui-probe", daemon=True)
                server.prober.start()
            self._cv.notify_all()

    #: Seconds between two "waiting for ComfyUI ..." log lines during an outage.
    LOG_EVERY = 30.0

    def _probe(self, server: ComfyServer) -> None:
        logged = time.monotonic()
        while not self._closing.wait(self.probe_interval):
            if time.monotonic() - logged >= self.LOG_EVERY:
                logged = time.monotonic()
                text = self.status_text()
                if text.startswith("waiting"):  # in the notebook's output and `storybench render -v`
                    log.warning("%s", text)
            try:
                server.client.system_stats()
                problems = self.check(server) if (server.needs_check and self.check is not None) else []
            except BackendError:
                continue
            with self._cv:
                down = time.monotonic() - (server.down_mono or time.monotonic())
                server.up, server.down_since, server.down_mono = True, None, None
                self._expired = None
                self.answered = True
                server.needs_check = False
                if problems:
                    self.leave_out(server, problems)
                else:
                    log.warning(
                        "ComfyUI at %s answers again after %.0f s",
                        server.url,
                        down,
                        extra={"server": server.url, "server_state": "up"},
                    )
                self._cv.notify_all()
            server.client.kick()  # reconnect the websocket now, not after its back-off
            return

    def leave_out(self, server: ComfyServer, problems: list[str]) -> None:
        """Leave ``server`` out of this batch with one warning naming it and its problems."""
        server.left_out = f"ComfyUI at {server.url} cannot run this batch: " + "; ".join(problems)
        log.warning(
            "%s; left out, rendering on the other servers",
            server.left_out,
            extra={"server": server.url, "server_state": "left_out"},
        )

    def wake(self) -> None:
        """Wake every render waiting for a slot (after a cancel)."""
        with self._cv:
            self._cv.notify_all()

    def counts(self) -> dict[str, Any]:
        """``{url: prompts finished}`` for the run log."""
        return {s.url: s.rendered for s in self.servers}

    def close(self) -> None:
        """Stop the probe threads and wake every waiting render."""
        self._closing.set()
        with self._cv:
            self._cv.notify_all()


def _check_cancel(cancel: threading.Event) -> None:
    """Raise :class:`Cancelled` once ``cancel`` is set."""
    if cancel.is_set():
        raise Cancelled("ComfyUI render cancelled")
