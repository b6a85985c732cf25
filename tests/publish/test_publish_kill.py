"""A publish SIGKILLed in the middle (a subprocess running ``storybench publish``), then run again:
every count equals the plan's, with no duplicate character, media or post; the token appears nowhere.

A kill while the platform makes a character leaves it *uncertain* (the platform finds AI
characters by id only): the rerun says so, creates no second one and exits 1; the operator
finds it and runs ``--resolve``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("grpc")
pytest.importorskip("moto")
from publish_platform import TestPlatform
from publish_support import ROOT, new_token, render_run, write_plan

WORLD = "world-kill"
PAGES = 12


def _cli(run: Path, platform: TestPlatform, token: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "STORYBENCH_PUBLISH_TARGET": platform.target,
        "STORYBENCH_PUBLISH_TOKEN": token,
        "STORYBENCH_PUBLISH_PLATFORM": platform.name,
    }
    cmd = [sys.executable, "-m", "storybench.cli", "publish", str(run), "--world", WORLD, "--no-llm", "-v", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT))


def _assert_exact(platform: TestPlatform) -> None:
    counts = platform.counts(WORLD)
    assert counts == {"characters": 2, "confirmed_media": 2 + PAGES, "posts": PAGES, "s3_objects": 2 + PAGES}
    names = [c.display_name for c in platform.ai_characters(WORLD)]
    assert sorted(names) == ["Ann", "Bo"]
    media_ids = [p["media_id"] for p in platform.posts]
    assert len(set(media_ids)) == PAGES
    files = sorted(platform.media[m]["filename"] for m in media_ids)
    assert files == [f"page-{n:03d}.png" for n in range(1, PAGES + 1)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "at", "drop"),
    [
        ("CreateAIPost", 6, True),
        ("ConfirmUpload", 9, False),
        ("GetPresignedUploadURL", 5, False),
        ("CreateCharacter", 2, False),
    ],
    ids=[
        "killed-while-posting-6",
        "killed-after-put-9-before-confirm-answer",
        "killed-before-url-5-answer",
        "killed-before-character-2-answer",
    ],
)
def test_sigkill_mid_publish_then_rerun(tmp_path, method, at, drop):
    token = new_token()
    plan = write_plan(tmp_path / "twelve.json", PAGES)
    run = render_run(plan, tmp_path / "outputs")
    with TestPlatform(token, unavailable_first=()) as platform:
        proc: dict[str, subprocess.Popen[bytes]] = {}

        def kill(n: int) -> bool:
            if n == at and "first" in proc:
                os.kill(proc["first"].pid, signal.SIGKILL)
                proc["first"].wait(timeout=30)  # dead before the platform answers
                return drop
            return False

        platform.before[method] = kill
        proc["first"] = _cli(run, platform, token)
        out1, err1 = proc["first"].communicate(timeout=300)
        assert proc["first"].returncode == -signal.SIGKILL, err1.decode()
        platform.wait_idle()  # the call the killed client left behind has finished
        before = platform.counts(WORLD)
        assert before["posts"] < PAGES
        if method == "CreateCharacter":  # the platform made it; only the ledger does not know its id
            assert before["characters"] == 2 and before["posts"] == 0
        del proc["first"]
        second = _cli(run, platform, token)
        out2, err2 = second.communicate(timeout=300)
        if method == "CreateCharacter":  # uncertain: not made again, not counted, exit 1
            assert second.returncode == 1, err2.decode()
            assert "uncertain: character char-2 (Bo)" in err2.decode() and "--resolve char-2=" in err2.decode()
            assert len(platform.ai_characters(WORLD)) == 2 and "created 1 character(s)" not in out2.decode()
            (made,) = [c for c in platform.ai_characters(WORLD) if c.display_name == "Bo"]
            resolved = _cli(run, platform, token, "--resolve", f"char-2={made.id}")
            out2, err2 = resolved.communicate(timeout=300)
            assert resolved.returncode == 0, err2.decode()
            assert "created 0 character(s)" in out2.decode() and "found on the platform 1 character(s)" in out2.decode()
        else:
            assert second.returncode == 0, err2.decode()
        _assert_exact(platform)
        third = _cli(run, platform, token)
        out3, err3 = third.communicate(timeout=300)
        assert third.returncode == 0, err3.decode()
        assert "created 0 character(s), 0 media, 0 post(s)" in out3.decode()
        _assert_exact(platform)
    # the token never reaches an output, a log or the catalog
    secret = token.encode()
    for blob in (out1, err1, out2, err2, out3, err3):
        assert secret not in blob
    for path in (tmp_path / "outputs").rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
