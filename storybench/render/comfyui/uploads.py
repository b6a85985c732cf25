"""Reference images uploaded once per server and content.

On-server contract: a reference image is uploaded with ``POST /upload/image`` (type
``input``, overwrite) under ``storybench_ref_<first 16 hex of its SHA-256><suffix>``, so
the same content always has the same name on a server and a re-upload replaces it with
identical bytes. :class:`UploadCache` remembers, per server URL and content hash, the
name the server gave (``subfolder/name`` when it put it in a subfolder), so each
reference is uploaded once per server and batch.
"""

from __future__ import annotations

import threading
from pathlib import Path

from storybench.exceptions import PermanentBackendError
from storybench.files import sha256_bytes
from storybench.render.comfyui.client import ComfyUIClient
from storybench.render.comfyui.errors import BACKEND

__all__ = ["UploadCache"]


class UploadCache:
    """Names of reference images already uploaded, per server (thread-safe)."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)

    def name_for(self, client: ComfyUIClient, path: str | Path) -> str:
        """The name to put in a ``LoadImage`` node for the image at ``path`` on ``client``'s
        server, uploading it first unless that content is already there.

        Raises:
            PermanentBackendError: the file cannot be read.
            TransientBackendError, BackendUnavailable: the upload failed.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentBackendError(BACKEND, f"reference image {path} cannot be read: {exc}") from exc
        digest = sha256_bytes(data)
        with self._lock:
            name = self._names.get((client.url, digest))
        if name is None:
            name = client.upload_image(data, f"storybench_ref_{digest[:16]}{path.suffix or '.png'}")
            with self._lock:
                self._names[(client.url, digest)] = name
        return name
