"""What ``storybench render`` prints while the batch notebook runs: one line per finished
job and every outage or server change, as it happens.

The lines come from the run's progress feed (:mod:`storybench.batch.progress_feed`)::

    [ 3/14] panel p1-3: rendered
    [ 4/14] panel p1-4: cached
    waiting for ComfyUI at http://127.0.0.1:8188: it stopped answering (...); giving up after 600 s
    waiting for ComfyUI at http://127.0.0.1:8188 (down 30 s)
    ComfyUI at http://127.0.0.1:8188 answers again after 49 s
    [ 5/14] panel p1-5: failed: prompt ... out of memory

:class:`ProgressPrinter` also remembers which servers went down or were left out, so the
end of the run can name the servers that were still dead (:meth:`ProgressPrinter.dead_servers`).
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

__all__ = ["ProgressPrinter"]

#: What a completed job of each kind did (a job taken from the cache is "cached").
_DONE = {
    "character_sheet": "rendered",
    "panel": "rendered",
    "page": "composed",
    "cover": "composed",
}


class ProgressPrinter:
    """Prints progress lines to ``out`` (call it with each feed line; thread-safe).

    Args:
        out: the terminal stream (stdout).
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.servers: dict[str, str] = {}  # URL -> "down", "up" or "left_out", as last reported
        self._lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        text = self.format(line)
        with self._lock:
            if line.get("server") and line.get("server_state"):
                self.servers[str(line["server"])] = str(line["server_state"])
            if text:
                print(text, file=self.out, flush=True)

    @staticmethod
    def format(line: dict[str, Any]) -> str:
        """The terminal line for one feed line (``""``: nothing to print)."""
        kind = line.get("type")
        if kind == "run_started":
            return f"run {line.get('run_id')}: {line.get('total')} job(s)"
        if kind == "log":
            return str(line.get("message") or "")
        if kind != "job_finished":
            return ""
        total = int(line.get("total") or 0)
        name = str(line.get("kind") or "").replace("_", " ")
        item = line.get("artifact_id") or line.get("job_id") or ""
        return f"[{int(line.get('done') or 0):>{len(str(total))}}/{total}] {name} {item}: {_outcome(line)}"

    def dead_servers(self) -> list[str]:
        """Servers whose last report was that they stopped answering or were left out."""
        with self._lock:
            return [url for url, state in self.servers.items() if state in ("down", "left_out")]


def _outcome(line: dict[str, Any]) -> str:
    """What a finished job did: ``rendered``/``composed``/``exported``, ``cached``,
    ``failed: <first line of its error>`` or its state (``cancelled``)."""
    state = str(line.get("state") or "")
    if state == "completed":
        return "cached" if line.get("cache_hit") else _DONE.get(str(line.get("kind")), "exported")
    if state == "failed":
        return "failed: " + (str(line.get("error") or "").splitlines() or ["(no message)"])[0]
    return state
