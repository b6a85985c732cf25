"""HTTP and websocket client for one ComfyUI server.

:class:`ComfyUIClient` wraps the server's routes (``/prompt``, ``/history/{id}``,
``/view``, ``/upload/image``, ``/queue``, ``/interrupt``, ``/object_info``,
``/system_stats``, ``/free``, ``POST /history``) over one :class:`httpx.Client` (injectable, so tests
can pass a transport) and keeps ONE websocket (``/ws?clientId=...``) open in a reader
thread that dispatches messages by ``prompt_id`` to :class:`PromptWatch` objects.

The server only sends execution messages for prompts submitted with the same
``client_id``, so the socket is opened before the first prompt is queued and every
prompt is submitted with this client's id and a client-chosen ``prompt_id`` (the
watch is registered first, so no message can be missed). When the socket drops the
reader reconnects with back-off and watches fall back to polling ``/history/{id}``;
:meth:`ComfyUIClient.kick` cuts the back-off short (the server answered again). A
reconnect may hide a restart: :meth:`ComfyUIClient.knows` tells whether the server still
has a prompt (in ``/queue`` or ``/history``). No ``Origin`` header is ever sent
(ComfyUI answers 403 to a foreign origin).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from storybench.exceptions import MissingDependencyError
from storybench.render.comfyui.errors import http_error, prompt_rejected
from storybench.render.comfyui.watch import PromptWatch

__all__ = ["ComfyUIClient", "PromptWatch"]

log = logging.getLogger("storybench.comfyui")


class ComfyUIClient:
    """Talks to one ComfyUI server over HTTP (httpx) and one websocket.

    Args:
        url: base URL, e.g. ``http://127.0.0.1:8188``.
        http: an :class:`httpx.Client` to use (its ``base_url`` is ignored; full URLs are used).
        transport: an httpx transport for a client created here (tests: ``httpx.MockTransport``).
        timeout: HTTP timeout in seconds.
        client_id: websocket client id (default: a fresh uuid4 hex).
        use_websocket: open the websocket (``False``: poll ``/history`` only).
        ws_connect: factory ``(ws_url) -> connection`` with ``recv()``/``close()``
            (default ``websockets.sync.client.connect``).

    Attributes:
        connected: a :class:`threading.Event` set while the websocket is open.
        drops: how many times the websocket closed under us.
        reconnects: how many times it was opened again.

    Raises:
        MissingDependencyError: ``use_websocket`` and the ``websockets`` package is missing.
    """

    def __init__(
        self,
        url: str,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        client_id: str | None = None,
        use_websocket: bool = True,
        ws_connect: Callable[[str], Any] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=timeout, transport=transport, follow_redirects=True, headers={"User-Agent": "storybench-comfyui"}
        )
        self.timeout = timeout
        self.use_websocket = use_websocket
        self._ws_connect = ws_connect
        if use_websocket and ws_connect is None:
            try:
                from websockets.sync.client import connect  # noqa: F401  # lazy: optional extra storybench[comfyui]
            except ImportError as exc:  # pragma: no cover - depends on environment
                raise MissingDependencyError("the ComfyUI backend's websocket", "comfyui", "websockets") from exc
        self._watches: dict[str, PromptWatch] = {}
        self._orphans: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._ws: Any = None
        self._ws_thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._kick = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0
        self.drops = 0
        self.queue_remaining: int | None = None

    # ------------------------------------------------------------------ HTTP
    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = f"{self.url}{path}"
        try:
            response = self.http.request(method, url, **kw)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise http_error(exc, url) from exc
        return response

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self._request(method, path, **kw)
        try:
            return response.json()
        except ValueError as exc:
            raise http_error(exc, f"{self.url}{path}") from exc

    def system_stats(self) -> dict[str, Any]:
        """``GET /system_stats``: ``{"system": {...}, "devices": [{"name", "type", "vram_free", ...}]}``."""
        return self._json("GET", "/system_stats")

    def object_info(self) -> dict[str, Any]:
        """``GET /object_info``: every node class with its inputs (model loaders list installed files)."""
        return self._json("GET", "/object_info")

    def submit(self, workflow: Mapping[str, Any], prompt_id: str | None = None) -> dict[str, Any]:
        """``POST /prompt`` with this client's id.

        Args:
            workflow: filled API-format workflow.
            prompt_id: id to ask for (servers that ignore it return their own).

        Returns:
            ``{"prompt_id", "number", "node_errors"}``.

        Raises:
            WorkflowError: 400 validation failure (names node id, class_type, input, value).
            TransientBackendError, BackendUnavailable: 5xx or network failure.
        """
        body: dict[str, Any] = {"prompt": workflow, "client_id": self.client_id}
        if prompt_id:
            body["prompt_id"] = prompt_id
        url = f"{self.url}/prompt"
        try:
            response = self.http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise http_error(exc, url) from exc
        if response.status_code != 200:
            try:
                payload: Any = response.json()
            except ValueError:
                payload = response.text
            try:
                response.raise_for_status()
                cause: Exception = ValueError(f"HTTP {response.status_code}")
            except httpx.HTTPStatusError as exc:  # kept as the cause: is_outage() reads its status
                cause = exc
            raise prompt_rejected(response.status_code, payload, url, response.headers) from cause
        return response.json()

    def history(self, prompt_id: str) -> dict[str, Any]:
        """``GET /history/{prompt_id}``: the entry for that prompt, or ``{}`` while unknown."""
        return (self._json("GET", f"/history/{prompt_id}") or {}).get(prompt_id, {})

    def delete_history(self, prompt_ids: list[str]) -> None:
        """``POST /history {"delete": ids}``: drop finished prompts' entries (ComfyUI keeps up
        to 10,000 otherwise; the images stay on disk)."""
        if prompt_ids:
            self._request("POST", "/history", json={"delete": list(prompt_ids)})

    def knows(self, prompt_id: str) -> bool:
        """Whether the server still has ``prompt_id``: queued, running, or in ``/history``.

        A restarted ComfyUI starts with an empty queue and history, so a prompt it never
        finished is simply gone. ``/queue`` is read first: a prompt that finishes between
        the two reads is in ``/history`` by the second.

        Raises:
            BackendUnavailable: the server cannot be reached.
        """
        queue = self.queue()
        for item in [*(queue.get("queue_running") or []), *(queue.get("queue_pending") or [])]:
            if isinstance(item, (list, tuple)) and len(item) > 1 and item[1] == prompt_id:
                return True
        return bool(self.history(prompt_id))

    def view(self, image: Mapping[str, Any]) -> bytes:
        """``GET /view`` for one image reference ``{"filename", "subfolder", "type"}``: its bytes."""
        params = {
            "filename": image["filename"],
            "subfolder": image.get("subfolder", ""),
            "type": image.get("type", "output"),
        }
        return self._request("GET", "/view", params=params).content

    def upload_image(self, data: bytes, filename: str, *, overwrite: bool = True) -> str:
        """``POST /upload/image`` (multipart, type ``input``): the name to put in a LoadImage node."""
        files = {"image": (filename, data, "image/png")}
        answer = self._json(
            "POST", "/upload/image", files=files, data={"type": "input", "overwrite": "true" if overwrite else "false"}
        )
        sub = answer.get("subfolder") or ""
        return f"{sub}/{answer['name']}" if sub else answer["name"]

    def queue(self) -> dict[str, Any]:
        """``GET /queue``: ``{"queue_running": [...], "queue_pending": [...]}``."""
        return self._json("GET", "/queue")

    def delete_queued(self, prompt_ids: list[str]) -> None:
        """``POST /queue {"delete": ids}``: drop prompts that have not started."""
        if prompt_ids:
            self._request("POST", "/queue", json={"delete": list(prompt_ids)})

    def interrupt(self, prompt_id: str | None = None) -> None:
        """``POST /interrupt`` (for ``prompt_id`` only, when given); takes effect between nodes."""
        self._request("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {})

    def free(self, unload_models: bool = True, free_memory: bool = True) -> None:
        """``POST /free``: ask ComfyUI to unload models and free cached memory (after the current prompt)."""
        self._request("POST", "/free", json={"unload_models": unload_models, "free_memory": free_memory})

    # ------------------------------------------------------------- websocket
    @property
    def ws_url(self) -> str:
        """``ws(s)://host:port/ws?clientId=...``."""
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/ws?clientId={self.client_id}"

    def _connect(self) -> Any:
        if self._ws_connect is not None:
            return self._ws_connect(self.ws_url)
        from websockets.sync.client import connect  # lazy: optional extra storybench[comfyui]

        return connect(self.ws_url, open_timeout=self.timeout, max_size=None, compression=None)

    def start(self, wait: float = 5.0) -> bool:
        """Open the websocket (once) and start the reader thread.

        Args:
            wait: seconds to wait for the first connection.

        Returns:
            True when connected (False: the client polls ``/history`` meanwhile).
        """
        if not self.use_websocket:
            return False
        with self._lock:
            if self._ws_thread is not None:
                return self.connected.is_set()
            self._closing.clear()
            self._ws_thread = threading.Thread(target=self._reader, name="comfyui-ws", daemon=True)
            self._ws_thread.start()
        return self.connected.wait(wait)

    def _reader(self) -> None:
        """The websocket thread: connect (backing off while refused), read until the socket
        drops, and again, until the client closes."""
        delay = 0.2
        first = True
        while not self._closing.is_set():
            ws = self._open_socket()
            if ws is None:
                delay = self._backoff(delay)
                continue
            self._ws = ws
            if not first:
                self.reconnects += 1
                log.info("websocket reconnected (%d)", self.reconnects)
            first = False
            delay = 0.2
            self.connected.set()
            self._pump(ws)

    def _open_socket(self) -> Any:
        """A connected websocket, or ``None`` when connecting failed (refused, timeout, handshake rejected)."""
        try:
            ws = self._connect()
            if hasattr(ws, "__enter__"):  # websockets >= 16: connect() is a context manager
                ws = ws.__enter__()
        except Exception as exc:  # refused, timeout, handshake rejected
            log.debug("websocket connect failed: %s", exc)
            return None
        return ws

    def _backoff(self, delay: float) -> float:
        """Wait ``delay`` seconds before connecting again; the next delay (doubled up to 5 s, or
        short again when the server answered meanwhile)."""
        self._kick.wait(delay)
        if self._kick.is_set():  # the server answered again: try now, from a short delay
            self._kick.clear()
            return 0.2
        return min(delay * 2, 5.0)

    def _pump(self, ws: Any) -> None:
        """Dispatch ``ws``'s text messages until it drops or the client closes; then mark the
        socket down and wake every watch (they poll ``/history`` meanwhile)."""
        try:
            while not self._closing.is_set():
                message = ws.recv()
                if isinstance(message, str):
                    self._dispatch(message)
                # binary frames are sampler previews: ignored
        except Exception as exc:
            if not self._closing.is_set():
                log.warning("websocket dropped: %s; polling /history for outstanding prompts", exc)
        finally:
            self._dropped(ws)

    def _dropped(self, ws: Any) -> None:
        """Mark the socket ``ws`` down, close it and wake every watch."""
        self.connected.clear()
        self.drops += 1
        self._ws = None
        with contextlib.suppress(Exception):
            ws.close()
        with self._lock:
            watches = list(self._watches.values())
        for watch in watches:
            watch.wake()

    def _dispatch(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        kind = message.get("type")
        data = message.get("data") or {}
        if kind == "status":
            info = (data.get("status") or {}).get("exec_info") or {}
            self.queue_remaining = info.get("queue_remaining", self.queue_remaining)
            return
        prompt_id = data.get("prompt_id") if isinstance(data, dict) else None
        if not prompt_id:
            return
        with self._lock:
            watch = self._watches.get(prompt_id)
            if watch is None:
                # message for a prompt whose id we do not know yet (server ignored ours): keep a while
                bucket = self._orphans.setdefault(prompt_id, [])
                bucket.append((kind, data))
                if len(self._orphans) > 256:
                    self._orphans.pop(next(iter(self._orphans)))
                return
        watch.feed(kind, data)

    def watch(self, prompt_id: str, on_progress: Callable[[int, int], None] | None = None) -> PromptWatch:
        """Register a watch for ``prompt_id`` (before submitting it) and return it."""
        w = PromptWatch(prompt_id, on_progress)
        with self._lock:
            self._watches[prompt_id] = w
        return w

    def rekey(self, watch: PromptWatch, prompt_id: str) -> None:
        """Move ``watch`` to the id the server actually assigned, replaying early messages."""
        with self._lock:
            self._watches.pop(watch.prompt_id, None)
            watch.prompt_id = prompt_id
            self._watches[prompt_id] = watch
            early = self._orphans.pop(prompt_id, [])
        for kind, data in early:
            watch.feed(kind, data)

    def unwatch(self, watch: PromptWatch) -> None:
        """Forget a watch."""
        with self._lock:
            self._watches.pop(watch.prompt_id, None)

    def watches(self) -> list[PromptWatch]:
        """Watches of prompts still outstanding."""
        with self._lock:
            return list(self._watches.values())

    def kick(self) -> None:
        """Reconnect the websocket now instead of after the back-off (the server is back)."""
        self._kick.set()

    def drop_websocket(self) -> None:
        """Close the current websocket (the reader reconnects); for tests and recovery."""
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()

    def close(self) -> None:
        """Stop the reader thread, close the socket and (if created here) the HTTP client."""
        self._closing.set()
        self._kick.set()
        self.drop_websocket()
        thread = self._ws_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._ws_thread = None
        with self._lock:
            watches = list(self._watches.values())
        for w in watches:
            w.wake()
        if self._own_http:
            self.http.close()
