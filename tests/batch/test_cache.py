"""Content-addressed cache and the retry loop."""

from __future__ import annotations

import os
import threading
import time

import pytest
from engine_support import make_plan, small_settings

from storybench.batch import ArtifactCache, call_with_retries, character_sheet_spec, materialize_file
from storybench.batch.jobs import is_transient
from storybench.exceptions import Cancelled, PermanentBackendError, RetryExhausted, TransientBackendError
from storybench.files import sha256_bytes

KEY = "ab" + "0" * 62


def test_put_get_roundtrip(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    assert cache.get(KEY) is None
    entry = cache.put_bytes(KEY, b"png-bytes", kind="panel", width=8, height=4)
    assert entry.path == tmp_path / "cache" / "objects" / "ab" / f"{KEY}.png"
    got = cache.get(KEY)
    assert got == entry and got.sha256 == sha256_bytes(b"png-bytes") and got.bytes == 9
    assert (got.width, got.height, got.kind) == (8, 4, "panel")


def test_object_without_sidecar_or_with_wrong_size_is_a_miss(tmp_path):
    cache = ArtifactCache(tmp_path)
    path = cache.object_path(KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half written")  # killed before the sidecar was written
    assert cache.get(KEY) is None
    cache.put_bytes(KEY, b"complete")
    path.write_bytes(b"truncated")
    assert cache.get(KEY) is None
    path.unlink()
    assert cache.get(KEY) is None


def test_materialize_hard_links_and_replaces_atomically(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    entry = cache.put_bytes(KEY, b"one")
    dest = tmp_path / "run" / "panels" / "p1.png"
    cache.materialize(entry, dest)
    assert dest.read_bytes() == b"one"
    assert os.stat(dest).st_ino == os.stat(entry.path).st_ino
    cache.materialize(entry, dest)  # same file again: no error
    other = cache.put_bytes("cd" + "1" * 62, b"two")
    materialize_file(other.path, dest)
    assert dest.read_bytes() == b"two"
    assert [p.name for p in dest.parent.iterdir()] == ["p1.png"]  # no temporary files left


def test_retries_only_transient_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientBackendError("x", "busy")
        return "ok"

    assert call_with_retries(flaky, retries=3, backoff_seconds=0) == "ok" and len(calls) == 3

    perm = []

    def permanent():
        perm.append(1)
        raise PermanentBackendError("x", "bad request")

    with pytest.raises(PermanentBackendError):
        call_with_retries(permanent, retries=5, backoff_seconds=0)
    assert len(perm) == 1


def test_retry_exhausted_keeps_last_error_and_backoff_doubles():
    attempts = []
    start = time.monotonic()

    def always():
        attempts.append(time.monotonic() - start)
        raise TransientBackendError("x", f"busy {len(attempts)}")

    with pytest.raises(RetryExhausted) as info:
        call_with_retries(always, retries=3, backoff_seconds=0.04)
    assert info.value.attempts == 3 and "busy 3" in str(info.value.last_error)
    assert attempts[1] - attempts[0] >= 0.04 and attempts[2] - attempts[1] >= 0.08


def test_cancel_interrupts_backoff():
    event = threading.Event()

    def fail():
        threading.Timer(0.05, event.set).start()
        raise TransientBackendError("x", "busy")

    start = time.monotonic()
    with pytest.raises(Cancelled):
        call_with_retries(fail, retries=3, backoff_seconds=30, cancel_event=event)
    assert time.monotonic() - start < 5


def test_transient_flag_is_duck_typed():
    class Custom(Exception):
        transient = True

    assert is_transient(Custom()) and is_transient(TransientBackendError("x", "y"))
    assert not is_transient(ValueError()) and not is_transient(PermanentBackendError("x", "y"))


def test_character_sheet_spec():
    plan = make_plan()
    settings = small_settings(render_params={"steps": 20})
    mara = plan.character("mara")
    spec = character_sheet_spec(plan, mara, settings)
    assert spec.prompt == (
        "character reference sheet, film noir comic art, high-contrast black and white ink, deep shadows, "
        "venetian-blind light, 1940s, Mara: tall woman, short black hair, wearing trench coat, "
        "front and side views, neutral background"
    )
    assert (spec.width, spec.height, spec.seed) == (1024, 1024, mara.seed)
    assert spec.params == {"steps": 20, "kind": "character_sheet"}
    joe = character_sheet_spec(plan, plan.character("joe"), settings)
    assert "wearing" not in joe.prompt and "Joe: old man, grey beard, front and side views" in joe.prompt


def test_sweep_removes_only_old_temp_files(tmp_path):
    cache = ArtifactCache(tmp_path)
    entry = cache.put_bytes(KEY, b"data")
    old = entry.path.parent / f".{KEY}.png.abc.tmp"
    young = entry.path.parent / f".{KEY}.png.def.tmp"
    old.write_bytes(b"torn")
    young.write_bytes(b"being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert cache.sweep_temp_files(older_than_seconds=3600) == 1
    assert not old.exists() and young.exists() and cache.get(KEY) is not None
