"""Atomic file writes and content hashes.

Every file storybench writes goes through here: the data is written to a temporary
file in the destination folder, flushed and fsynced, then renamed over the target
(``os.replace`` is atomic on POSIX and Windows), so a process killed at any moment
leaves either the old file or the new one, never a torn one.

Files are created with the mode the process umask allows (``0o666 & ~umask``:
``0644`` under the usual ``0022``), like any file opened for writing, so other
users, groups and web servers can read outputs when the umask says they may
(:func:`tempfile.mkstemp` would make them ``0600``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "create_temp_file",
    "sha256_bytes",
    "sha256_file",
    "temp_name",
]


def temp_name(target: Path) -> Path:
    """A fresh temporary path beside ``target``: ``.<name>.<pid>-<random>.tmp`` (the pattern
    sweeps look for; the writer's process id tells a sweep whether its writer is gone)."""
    return target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp"


def create_temp_file(target: Path) -> tuple[int, Path]:
    """Create (exclusively) an empty temporary file beside ``target``, mode ``0o666 & ~umask``.

    Returns:
        ``(fd, path)``: an open write-only descriptor and the temporary path.

    Raises:
        OSError: the folder cannot be written.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = temp_name(target)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating parent folders.

    Args:
        path: destination file.
        data: the complete file content.

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Raises:
        OSError: the folder cannot be created or written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp_file(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(target)) from exc  # a full disk names the file
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, indent: int = 2) -> Path:
    """Write ``data`` as UTF-8 JSON (non-ASCII kept as is) to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=indent) + "\n")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, read in ``chunk``-byte pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
