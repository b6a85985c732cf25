"""Content-addressed artifact cache under ``<output_dir>/cache/``.

An object is stored by its cache key (hex SHA-256 of everything that determines
it, see :meth:`storybench.render.spec.RenderSpec.cache_key`) as
``cache/objects/<key[:2]>/<key><suffix>`` next to ``<key>.json`` holding its
SHA-256, size and image size. The sidecar is written after the object, both
atomically, so an entry whose sidecar exists is complete; a process killed in
between leaves an object without a sidecar, which is simply a miss.

Objects reach a run folder through :meth:`ArtifactCache.materialize`: a hard link
when the file system allows it (no extra space), a copy otherwise; either way the
destination appears atomically.

Equal content is stored once: on commit every object is hard-linked to
``cache/blobs/<sha[:2]>/<sha256><suffix>``, and an object whose content is already
there becomes a link to the existing blob. So a forced re-render that produces the
same bytes adds no space, and a blob whose link count is 1 is referenced by no
object and no run (what ``storybench prune`` removes). Where hard links are not
available this step is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from storybench.batch.tempfiles import writer_gone
from storybench.files import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file, temp_name

__all__ = ["ArtifactCache", "CacheEntry", "materialize_file"]


@dataclass(frozen=True)
class CacheEntry:
    """A complete cache object.

    Attributes:
        key: the cache key (hex SHA-256).
        path: the object file.
        sha256: hex SHA-256 of the file content.
        bytes: file size in bytes.
        width, height: image size in pixels (``None`` for PDF/CBZ).
        kind: what the object is (``panel``, ``page``, ``pdf``...).
    """

    key: str
    path: Path
    sha256: str
    bytes: int
    width: int | None = None
    height: int | None = None
    kind: str = ""


def materialize_file(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Make ``dest`` hold the content of ``src`` atomically: a hard link when possible,
    else a copy; creates parent folders.

    Raises:
        OSError: ``src`` cannot be read or ``dest`` written.
    """
    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if os.path.samefile(src, dest):
            return dest
    except OSError:
        pass
    tmp = temp_name(dest)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(dest)) from exc  # a full disk names the file
        raise
    return dest


def _link_over(src: Path, dest: Path) -> None:
    """Atomically make ``dest`` a hard link to ``src``.

    Raises:
        OSError: hard links are not possible here.
    """
    tmp = temp_name(dest)
    os.link(src, tmp)
    try:
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ArtifactCache:
    """The content-addressed store of one output folder.

    Args:
        root: the cache folder, normally ``<output_dir>/cache``.

    Safe to share between threads and processes: every write is atomic and two
    writers of one key write equal content.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def object_path(self, key: str, suffix: str = ".png") -> Path:
        """Where the object for ``key`` lives (it may not exist)."""
        return self.root / "objects" / key[:2] / f"{key}{suffix}"

    def blob_path(self, sha256: str, suffix: str = ".png") -> Path:
        """Where the content-addressed copy of a file with that SHA-256 lives (it may not exist)."""
        return self.root / "blobs" / sha256[:2] / f"{sha256}{suffix}"

    def _dedupe(self, path: Path, sha256: str) -> None:
        """Make ``path`` and its blob one inode (best effort: skipped without hard links)."""
        blob = self.blob_path(sha256, path.suffix)
        try:
            if blob.exists() and blob.stat().st_size == path.stat().st_size:
                if not os.path.samefile(blob, path):
                    _link_over(blob, path)
                return
            blob.parent.mkdir(parents=True, exist_ok=True)
            _link_over(path, blob)
        except OSError:
            pass

    def _meta_path(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / f"{key}.json"

    def get(self, key: str) -> CacheEntry | None:
        """The complete entry for ``key``, or ``None`` on a miss (also when its file vanished)."""
        meta_path = self._meta_path(key)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            entry = CacheEntry(
                key=key,
                path=meta_path.parent / meta["file"],
                sha256=meta["sha256"],
                bytes=int(meta["bytes"]),
                width=meta.get("width"),
                height=meta.get("height"),
                kind=meta.get("kind", ""),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            if entry.path.stat().st_size != entry.bytes:
                return None
        except OSError:
            return None
        return entry

    def commit(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        kind: str = "",
        width: int | None = None,
        height: int | None = None,
        sha256: str | None = None,
    ) -> CacheEntry:
        """Register the object file already written (atomically) at ``path`` —
        which must be :meth:`object_path` of ``key`` — by writing its sidecar.

        Raises:
            OSError: the file cannot be read or the sidecar written.
        """
        path = Path(path)
        sha256 = sha256 or sha256_file(path)
        self._dedupe(path, sha256)
        entry = CacheEntry(
            key=key,
            path=path,
            sha256=sha256,
            bytes=path.stat().st_size,
            width=width,
            height=height,
            kind=kind,
        )
        meta = {k: v for k, v in asdict(entry).items() if k not in ("path", "key")}
        meta["file"] = path.name
        atomic_write_json(self._meta_path(key), meta, indent=0)
        return entry

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        suffix: str = ".png",
        kind: str = "",
        width: int | None = None,
        height: int | None = None,
    ) -> CacheEntry:
        """Store ``data`` under ``key`` and return the complete entry.

        Raises:
            OSError: the cache folder cannot be written.
        """
        path = atomic_write_bytes(self.object_path(key, suffix), data)
        return self.commit(key, path, kind=kind, width=width, height=height, sha256=sha256_bytes(data))

    def sweep_temp_files(self, older_than_seconds: float = 3600.0) -> int:
        """Delete temporary files (``.<name>.*.tmp``) that killed writers left in the cache:
        at once when the writer's process is gone (its pid is in the name, see
        :mod:`storybench.batch.tempfiles`), else when older than ``older_than_seconds``.

        Returns:
            How many were removed.
        """
        removed = 0
        limit = time.time() - older_than_seconds
        for pattern in ("objects/*/.*.tmp", "blobs/*/.*.tmp"):
            for path in self.root.glob(pattern):
                try:
                    if writer_gone(path) or path.stat().st_mtime < limit:
                        path.unlink()
                        removed += 1
                except OSError:
                    pass
        return removed

    def materialize(self, entry: CacheEntry, dest: str | os.PathLike[str]) -> Path:
        """Place the object of ``entry`` at ``dest`` (see :func:`materialize_file`)."""
        return materialize_file(entry.path, dest)
