"""The fault table: every way a create call can lose its answer, then a rerun, against the platform
built from the upstream protos. Each row publishes plans/mavka-forest-manga.json (2 characters,
5 media, 3 posts) with ``storybench publish`` in a subprocess:

* kill -9 at 6 points: during ``CreateCharacter``, ``GetPresignedUploadURL``, ``ConfirmUpload`` and
  ``CreateAIPost`` after the platform carried them out, between the ``PUT`` and ``ConfirmUpload``,
  and right after a post;
* ``UNAVAILABLE`` returned after the platform carried out ``CreateCharacter``,
  ``GetPresignedUploadURL`` and ``CreateAIPost``;
* a 2 s client deadline against a platform that takes 4 s on ``CreateCharacter`` / ``CreateAIPost``.

After the rerun: no duplicate post in any row; no duplicate character, and a character whose
creation cannot be known is reported "uncertain" with exit 1, not counted as created, and
finished with ``--resolve`` (the id an operator finds on the platform by the ``publish_key``
in its ``meta``). Run with ``-s`` to see the table.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("grpc")
pytest.importorskip("moto")
from publish_platform import TestPlatform
from publish_support import MAVKA, ROOT, mavka_run, new_token  # noqa: F401

WORLD = "world-faults"
EXACT = {"characters": 2, "confirmed_media": 5, "posts": 3, "s3_objects": 5}


@dataclass
class Row:
    name: str
    arm: Callable[[TestPlatform, Callable[[], None]], None]
    timeout: str = ""
    exits: list[int] = field(default_factory=list)
    uncertain: set[str] = field(default_factory=set)
    created_chars: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    duplicate_chars: int = 0
    duplicate_posts: int = 0


def _kill_after(method: str, at: int) -> Callable[[TestPlatform, Callable[[], None]], None]:
    """SIGKILL the client once the platform has carried out call ``at`` of ``method``."""

    def arm(p: TestPlatform, kill: Callable[[], None]) -> None:
        p.after[method] = lambda n: n == at and (kill() or True)

    return arm


def _kill_before(method: str, at: int) -> Callable[[TestPlatform, Callable[[], None]], None]:
    """SIGKILL the client when call ``at`` of ``method`` arrives; the call is not carried out."""

    def arm(p: TestPlatform, kill: Callable[[], None]) -> None:
        p.before[method] = lambda n: n == at and (kill() or True)

    return arm


def _lose(method: str) -> Callable[[TestPlatform, Callable[[], None]], None]:
    def arm(p: TestPlatform, kill: Callable[[], None]) -> None:
        p.lose_answer[method] = 1

    return arm


def _slow(method: str) -> Callable[[TestPlatform, Callable[[], None]], None]:
    """Call 1 of ``method`` takes 4 s before the platform commits and answers."""

    def arm(p: TestPlatform, kill: Callable[[], None]) -> None:
        p.before[method] = lambda n: n == 1 and bool(time.sleep(4.0))

    return arm


ROWS = [
    Row("kill -9 in CreateCharacter, after commit", _kill_after("CreateCharacter", 1)),
    Row("kill -9 in GetPresignedUploadURL, after commit", _kill_after("GetPresignedUploadURL", 3)),
    Row("kill -9 between PUT and ConfirmUpload", _kill_before("ConfirmUpload", 3)),
    Row("kill -9 in ConfirmUpload, after commit", _kill_after("ConfirmUpload", 3)),
    Row("kill -9 in CreateAIPost, after commit", _kill_after("CreateAIPost", 1)),
    Row("kill -9 right after a post", _kill_before("GetPresignedUploadURL", 4)),
    Row("UNAVAILABLE after commit: CreateCharacter", _lose("CreateCharacter")),
    Row("UNAVAILABLE after commit: GetPresignedUploadURL", _lose("GetPresignedUploadURL")),
    Row("UNAVAILABLE after commit: CreateAIPost", _lose("CreateAIPost")),
    Row("deadline 2 s, platform 4 s: CreateCharacter", _slow("CreateCharacter"), timeout="2"),
    Row("deadline 2 s, platform 4 s: CreateAIPost", _slow("CreateAIPost"), timeout="2"),
]


def _cli(run: Path, p: TestPlatform, token: str, timeout: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "STORYBENCH_PUBLISH_TARGET": p.target,
        "STORYBENCH_PUBLISH_TOKEN": token,
        "STORYBENCH_PUBLISH_PLATFORM": p.name,
    }
    if timeout:
        env["STORYBENCH_PUBLISH_TIMEOUT_SECONDS"] = timeout
    cmd = [sys.executable, "-m", "storybench.cli", "publish", str(run), "--world", WORLD, "--no-llm", "--no-progress"]
    return subprocess.Popen([*cmd, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT))


_CREATED = re.compile(r"created (\d+) character\(s\)")


@pytest.mark.slow
def test_fault_table(mavka_run, capsys):
    for row in ROWS:
        _play_row(row, mavka_run)
    lines = [
        f"{'fault':<48} {'exit codes':<10} {'chars':>5} {'dup':>3} {'media':>5} {'posts':>5} {'dup':>3}"
        f" {'chars created':<16} uncertain (resolved)",
    ]
    for r in ROWS:
        exits = ",".join(map(str, r.exits))
        counted = "+".join(map(str, r.created_chars))
        lines.append(
            f"{r.name:<48} {exits:<10} {r.counts['characters']:>5} {r.duplicate_chars:>3} "
            f"{r.counts['confirmed_media']:>5} {r.counts['posts']:>5} {r.duplicate_posts:>3} "
            f"{counted:<16} {', '.join(sorted(r.uncertain)) or '-'}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    for r in ROWS:
        assert r.duplicate_posts == 0, r
        assert r.duplicate_chars == 0, r
        assert r.counts == EXACT, r
        assert r.exits[-1] == 0, r
        # an uncertain character is reported with exit 1 and never counted as created
        # (a killed run prints no counts: there, only the later runs' counts are known)
        assert sum(r.created_chars) <= 2 - len(r.uncertain), r
        if r.exits[0] >= 0:
            assert sum(r.created_chars) == 2 - len(r.uncertain), r
        if r.uncertain:
            assert r.exits[1] == 1, r


def _play_row(row: Row, run: Path) -> None:
    token = new_token()
    with TestPlatform(token, unavailable_first=()) as p:
        procs: dict[str, subprocess.Popen[bytes]] = {}

        def kill() -> None:
            proc = procs.get("now")
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

        row.arm(p, kill)
        extra: list[str] = []
        for attempt in range(4):
            procs["now"] = proc = _cli(run, p, token, row.timeout, *extra)
            out, err = proc.communicate(timeout=300)
            procs.pop("now")
            p.wait_idle()
            for hooks in (p.before, p.after, p.delay):
                hooks.clear()  # the fault happens in the first run only
            p.lose_answer.clear()
            row.exits.append(proc.returncode)
            assert token.encode() not in out + err
            match = _CREATED.search(out.decode())
            row.created_chars.append(int(match.group(1)) if match else 0)
            said = err.decode()
            pending = re.findall(r"uncertain: character (\S+) .*?publish_key (\w+)", said)
            row.uncertain |= {name for name, _ in pending}
            if pending and attempt >= 1:  # the rerun said it again: the operator looks them up, then resolves
                extra = []
                for name, key in pending:
                    meta = {c.id: json.loads(c.meta or "{}") for c in p.ai_characters(WORLD)}
                    found = [cid for cid, m in meta.items() if m.get("publish_key") == key]
                    extra += ["--resolve", f"{name}={found[0] if found else 'new'}"]
            elif proc.returncode == 0 and attempt >= 1:
                break
        row.counts = p.counts(WORLD)
        names = Counter(c.display_name for c in p.ai_characters(WORLD))
        row.duplicate_chars = sum(n - 1 for n in names.values())
        pages = Counter(p.media[post["media_id"]]["filename"] for post in p.posts if post["world_id"] == WORLD)
        row.duplicate_posts = sum(n - 1 for n in pages.values())
