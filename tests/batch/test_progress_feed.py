"""The progress feed between the kernel and `storybench render`: written whole, read as it
grows, printed as terminal lines; secrets of the environment never in it."""

from __future__ import annotations

import io
import json
import logging
import threading

from storybench.batch.ledger import ProgressEvent
from storybench.batch.progress_feed import ProgressFeed, follow_feed
from storybench.cli_progress import ProgressPrinter


def test_events_and_warnings_become_lines_the_printer_shows_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("COMFY_API_TOKEN", "s3cret-token-value")
    path = tmp_path / "run.events.jsonl"
    out = io.StringIO()
    printer = ProgressPrinter(out)
    stop = follow_feed(path, printer, interval=0.05)
    log = logging.getLogger("storybench.comfyui")
    with ProgressFeed(path) as feed:
        feed.on_event(ProgressEvent("run_started", "r1", 0, 3))
        feed.on_event(ProgressEvent("job_finished", "r1", 1, 3, "j1", "panel", "p1-1", "completed"))
        log.warning(
            "waiting for ComfyUI at %s: it stopped answering (token s3cret-token-value)",
            "http://a",
            extra={"server": "http://a", "server_state": "down"},
        )
        log.info("not a warning: left out of the feed")
        feed.on_event(ProgressEvent("job_finished", "r1", 2, 3, "j2", "panel", "p1-2", "completed", cache_hit=True))
        feed.on_event(ProgressEvent("job_finished", "r1", 3, 3, "j3", "page", "page-1", "failed", "no room\nmore"))
    stop()
    assert out.getvalue().splitlines() == [
        "run r1: 3 job(s)",
        "[1/3] panel p1-1: rendered",
        "waiting for ComfyUI at http://a: it stopped answering (token ***)",
        "[2/3] panel p1-2: cached",
        "[3/3] page page-1: failed: no room",
    ]
    assert "s3cret-token-value" not in path.read_text(encoding="utf-8")
    assert printer.dead_servers() == ["http://a"]
    printer(
        {
            "type": "log",
            "message": "ComfyUI at http://a answers again after 3 s",
            "server": "http://a",
            "server_state": "up",
        }
    )
    assert printer.dead_servers() == []


def test_a_line_written_in_two_pieces_is_read_once_whole(tmp_path):
    path = tmp_path / "feed.jsonl"
    got: list[dict] = []
    arrived = threading.Event()

    def on_line(line: dict) -> None:
        got.append(line)
        arrived.set()

    stop = follow_feed(path, on_line, interval=0.02)
    text = json.dumps({"type": "log", "message": "half and half"}) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text[:10])
        fh.flush()
        assert not arrived.wait(0.2)  # no newline yet: nothing delivered
        fh.write(text[10:])
    assert arrived.wait(5)
    stop()
    assert got == [{"type": "log", "message": "half and half"}]


def test_an_empty_path_writes_nothing_and_listens_to_no_logger(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ProgressFeed("") as feed:
        assert feed not in logging.getLogger("storybench").handlers
        feed.on_event(ProgressEvent("run_started", "r1", 0, 1))
    assert list(tmp_path.iterdir()) == []
