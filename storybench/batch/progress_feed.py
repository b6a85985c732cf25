"""A render's progress as JSON lines in a file: the kernel writes, the CLI reads as it grows.

``storybench render`` runs the batch notebook in a Jupyter kernel; papermill shows only
the notebook's cells. To show the batch itself, the CLI passes the notebook an
``events_path`` and the notebook opens a :class:`ProgressFeed` there: every
:class:`~storybench.batch.ledger.ProgressEvent` of the engine and every warning logged
under ``storybench`` (outages, servers answering again or left out) becomes one line::

    {"type": "job_finished", "done": 3, "total": 12, "kind": "panel", "artifact_id": "p1-3",
     "state": "completed", "cache_hit": false, "error": "", ...}
    {"type": "log", "level": "WARNING", "message": "waiting for ComfyUI at ...",
     "server": "http://...", "server_state": "down"}

On-disk contract: one JSON object per line, each written whole and flushed (a reader may
see a last line without its newline: it waits for the rest); values of secret-looking
environment variables are replaced by ``***`` before writing. :func:`follow_feed` reads
the file as it grows on a thread of the reading process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from storybench.batch.ledger import ProgressEvent
from storybench.redact import environment_secrets, scrub_text

__all__ = ["ProgressFeed", "follow_feed"]


class ProgressFeed(logging.Handler):
    """Writes progress events and ``storybench`` warnings to ``path`` as JSON lines.

    Use it as a context manager (it attaches itself to the ``storybench`` logger) and pass
    :meth:`on_event` as the engine's ``on_event``. With an empty ``path`` it does nothing.

    Args:
        path: the feed file (appended to); ``""``: no feed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(level=logging.WARNING)
        self.path = str(path)
        self._file: TextIO | None = None
        self._lock_file = threading.Lock()
        self._secrets = environment_secrets()

    def __enter__(self) -> ProgressFeed:
        if self.path:
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)
            logging.getLogger("storybench").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("storybench").removeHandler(self)
        with self._lock_file:
            if self._file is not None:
                self._file.close()
                self._file = None

    def on_event(self, event: ProgressEvent) -> None:
        """Write one engine event (the engine's ``on_event``)."""
        self.write(asdict(event))

    def emit(self, record: logging.LogRecord) -> None:
        """Write one log record of the ``storybench`` loggers (warnings and worse)."""
        line: dict[str, Any] = {"type": "log", "level": record.levelname, "message": record.getMessage()}
        for key in ("server", "server_state"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        self.write(line)

    def write(self, line: dict[str, Any]) -> None:
        """Append ``line`` as one JSON line (secrets of the environment replaced)."""
        text, _ = scrub_text(json.dumps(line, ensure_ascii=False, default=str), self._secrets)
        with self._lock_file:
            if self._file is not None:
                with contextlib.suppress(OSError):  # a full disk must not stop the render
                    self._file.write(text + "\n")


def _lines(path: Path, stop: threading.Event, interval: float) -> Iterator[str]:
    """Complete lines of ``path`` as it grows, until ``stop`` is set and the end is read."""
    offset, partial = 0, ""
    while True:
        stopping = stop.is_set()
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                fh.seek(offset)
                chunk = fh.read()
                offset = fh.tell()
        except FileNotFoundError:
            chunk = ""
        partial += chunk
        *complete, partial = partial.split("\n")
        yield from complete
        if stopping:
            return
        stop.wait(interval)


def follow_feed(
    path: str | os.PathLike[str], on_line: Callable[[dict[str, Any]], None], *, interval: float = 0.2
) -> Callable[[], None]:
    """Call ``on_line`` with every JSON line written to ``path`` (from a reader thread),
    starting now.

    Returns:
        ``stop()``: read what is left, call ``on_line`` for it and end the thread.
    """
    stop = threading.Event()

    def run() -> None:
        for text in _lines(Path(path), stop, interval):
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict):
                try:
                    on_line(line)
                except Exception:  # printing must never break the render
                    logging.getLogger("storybench.batch").exception("progress line not shown")

    thread = threading.Thread(target=run, name="progress-feed", daemon=True)
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join(timeout=10)

    return finish
