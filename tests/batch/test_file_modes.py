"""Files are created with the mode the umask allows, and equal cache content is stored once."""

from __future__ import annotations

import os
import stat

import pytest

from storybench.batch.cache import ArtifactCache, materialize_file
from storybench.files import atomic_write_bytes, atomic_write_json


@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_are_0644_under_umask_0022(tmp_path, umask):
    assert mode(atomic_write_bytes(tmp_path / "a.png", b"x")) == 0o644
    assert mode(atomic_write_json(tmp_path / "sub" / "run.json", {"a": 1})) == 0o644
    atomic_write_bytes(tmp_path / "a.png", b"yy")  # replacing keeps the umask's mode too
    assert mode(tmp_path / "a.png") == 0o644 and (tmp_path / "a.png").read_bytes() == b"yy"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_stricter_umask_is_respected(tmp_path):
    old = os.umask(0o077)
    try:
        assert mode(atomic_write_bytes(tmp_path / "private.json", b"{}")) == 0o600
    finally:
        os.umask(old)


def test_cache_objects_sidecars_and_materialized_files_are_0644(tmp_path, umask):
    cache = ArtifactCache(tmp_path / "cache")
    entry = cache.put_bytes("ab" * 32, b"\x89PNG data", kind="panel")
    assert mode(entry.path) == 0o644
    assert mode(entry.path.with_suffix(".json")) == 0o644
    dest = cache.materialize(entry, tmp_path / "run" / "panel.png")
    assert mode(dest) == 0o644
    src = atomic_write_bytes(tmp_path / "other" / "x.bin", b"data")
    os.chmod(src, 0o644)
    assert mode(materialize_file(src, tmp_path / "copy" / "x.bin")) == 0o644


def test_identical_content_is_stored_once_even_when_forced_again(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    key = "cd" * 32
    first = cache.put_bytes(key, b"same bytes" * 1000)
    run1 = cache.materialize(first, tmp_path / "run1" / "p.png")
    # a forced re-render writes the object again (a new file replaces the old one)
    second = cache.put_bytes(key, b"same bytes" * 1000)
    run2 = cache.materialize(second, tmp_path / "run2" / "p.png")
    assert os.path.samefile(run1, run2)
    blob = cache.blob_path(first.sha256)
    assert os.path.samefile(blob, run2) and os.stat(blob).st_nlink == 4  # blob, object, two runs
    other = cache.put_bytes("ef" * 32, b"same bytes" * 1000)  # another key, equal content
    assert os.path.samefile(other.path, blob)
