"""Which chat format a GGUF model gets: read from the file's metadata, or set by the user.

:func:`chat_format_for` decides, in this order:

1. ``STORYBENCH_CHAT_FORMAT`` (a llama-cpp-python format name such as ``gemma``,
   ``chatml``, ``llama-3``; ``auto`` or empty: decide from the file);
2. the file's own ``tokenizer.chat_template`` (run by llama-cpp-python as Jinja);
3. the turn markers among the file's tokens (``<start_of_turn>`` → ``gemma``,
   ``<|im_start|>`` → ``chatml``, ``<|start_header_id|>`` → ``llama-3``,
   ``[INST]`` → ``mistral-instruct``);
4. ``general.architecture`` (``gemma*`` → ``gemma``, ``qwen*``/``phi3`` → ``chatml``, …);
5. ``chatml`` (llama-cpp-python's own fallback, ``llama-2``, only for the ``llama``
   architecture with a SentencePiece vocabulary and no better sign).

Formats that drop the system message (llama-cpp-python's ``gemma`` formatter does)
are listed in :data:`SYSTEM_DROPPING_FORMATS`; the backend merges system text into the
first user turn for them.

The metadata is read by a small reader of the GGUF header (GGUF spec, ggml
``docs/gguf.md``: magic, version, tensor count, key/value pairs), which stops before
the tensor data, so even a many-gigabyte file answers in milliseconds without
loading the model.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from storybench.exceptions import ConfigError

__all__ = [
    "CHAT_FORMAT_ENV",
    "SYSTEM_DROPPING_FORMATS",
    "ChatFormat",
    "chat_format_for",
    "guess_chat_format",
    "read_gguf_metadata",
]

CHAT_FORMAT_ENV = "STORYBENCH_CHAT_FORMAT"
# llama-cpp-python's named formats whose prompt loses the system message (probed:
# tests/llm/test_llm_chat_format.py checks this list against the installed version)
SYSTEM_DROPPING_FORMATS = frozenset({"gemma", "vicuna", "openbuddy", "phind", "intel", "open-orca", "mistral-instruct"})
_MARKERS = (
    ("<start_of_turn>", "gemma"),
    ("<|start_header_id|>", "llama-3"),
    ("<|im_start|>", "chatml"),
    ("[INST]", "mistral-instruct"),
)
_ARCHITECTURES = (
    ("gemma", "gemma"),
    ("qwen", "chatml"),
    ("phi3", "chatml"),
    ("chatglm", "chatglm3"),
    ("baichuan", "baichuan-2"),
)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 * 1024 * 1024


@dataclass(frozen=True)
class ChatFormat:
    """The chat format a model file will use.

    Attributes:
        name: the llama-cpp-python ``chat_format`` to pass (``None``: the file's own template).
        source: ``argument``, ``env``, ``template``, ``tokens``, ``architecture`` or ``fallback``.
        drops_system: whether the format loses system messages (they get merged into the first user turn).
    """

    name: str | None
    source: Literal["argument", "env", "template", "tokens", "architecture", "fallback"]
    drops_system: bool = False

    def describe(self) -> str:
        """A short label for listings, e.g. ``gemma (from tokens, system merged)``."""
        label = "template" if self.name is None else self.name
        merged = ", system merged" if self.drops_system else ""
        return label if self.source == "template" else f"{label} (from {self.source}{merged})"


class _Reader:
    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle = handle
        self.path = path

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.handle.read(size)
        if len(data) != size:
            raise ConfigError(f"{self.path}: the GGUF header ends early")
        return struct.unpack(fmt, data)[0]

    def string(self, keep: bool = True) -> str:
        length = self.take("<Q")
        if length > _MAX_STRING:
            raise ConfigError(f"{self.path}: a GGUF string of {length:,} bytes is not plausible")
        if not keep:
            self.handle.seek(length, os.SEEK_CUR)
            return ""
        return self.handle.read(length).decode("utf-8", "replace")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item_kind, count = self.take("<I"), self.take("<Q")
            if item_kind in _SCALARS and not keep:
                self.handle.seek(struct.calcsize(_SCALARS[item_kind]) * count, os.SEEK_CUR)
                return None
            values = [self.value(item_kind, keep) for _ in range(count)]
            return values if keep else None
        raise ConfigError(f"{self.path}: unknown GGUF value type {kind}")


def read_gguf_metadata(path: str | os.PathLike[str], *, arrays: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (no tensors read).

    Args:
        path: the ``.gguf`` file.
        arrays: keys whose array values to keep (others are skipped, e.g. the
            150,000-token vocabulary): ``frozenset({"tokenizer.ggml.tokens"})``.

    Returns:
        ``{key: value}``; skipped arrays map to ``None``.

    Raises:
        ConfigError: not a GGUF file (v2 or v3), or a broken header.
        OSError: the file cannot be read.
    """
    path = Path(path)
    with path.open("rb") as handle:
        reader = _Reader(handle, path)
        if handle.read(4) != b"GGUF":
            raise ConfigError(f"{path}: not a GGUF file (no GGUF magic)")
        version = reader.take("<I")
        if version not in (2, 3):
            raise ConfigError(f"{path}: GGUF version {version} is not supported (2 or 3)")
        reader.take("<Q")  # tensor count
        pairs = reader.take("<Q")
        metadata: dict[str, Any] = {}
        for _ in range(pairs):
            key = reader.string()
            kind = reader.take("<I")
            metadata[key] = reader.value(kind, keep=kind != _ARRAY or key in arrays)
    return metadata


def guess_chat_format(metadata: dict[str, Any]) -> ChatFormat:
    """The chat format for a file's metadata (steps 2 to 5 of the module doc).

    ``metadata["tokenizer.ggml.tokens"]`` is used when present (a list of strings).
    """
    if metadata.get("tokenizer.chat_template"):
        return ChatFormat(None, "template")
    by_tokens = _format_from_tokens(metadata.get("tokenizer.ggml.tokens") or [])
    if by_tokens is not None:
        return by_tokens
    by_architecture = _format_from_architecture(metadata)
    return by_architecture if by_architecture is not None else ChatFormat("chatml", "fallback")


def _format_from_tokens(tokens: list[str]) -> ChatFormat | None:
    """The format whose marker token (see ``_MARKERS``, in order) is in the vocabulary, if any."""
    present = set(tokens)
    for marker, name in _MARKERS:
        if marker in present:
            return ChatFormat(name, "tokens", name in SYSTEM_DROPPING_FORMATS)
    return None


def _format_from_architecture(metadata: dict[str, Any]) -> ChatFormat | None:
    """The format implied by ``general.architecture`` (and a llama tokenizer), if any."""
    architecture = str(metadata.get("general.architecture") or "").lower()
    for prefix, name in _ARCHITECTURES:
        if architecture.startswith(prefix):
            return ChatFormat(name, "architecture", name in SYSTEM_DROPPING_FORMATS)
    if architecture == "llama" and metadata.get("tokenizer.ggml.model") == "llama":
        return ChatFormat("llama-2", "architecture")
    return None


def chat_format_for(path: str | os.PathLike[str]) -> ChatFormat:
    """The chat format the ``llamacpp`` backend uses for the GGUF file at ``path``
    (``STORYBENCH_CHAT_FORMAT`` first; see the module doc).

    Raises:
        ConfigError: not a GGUF file, or a broken header.
        OSError: the file cannot be read.
    """
    chosen = os.environ.get(CHAT_FORMAT_ENV, "").strip()
    if chosen and chosen.lower() != "auto":
        return ChatFormat(chosen, "env", chosen in SYSTEM_DROPPING_FORMATS)
    metadata = read_gguf_metadata(path)  # the vocabulary is read only when there is no template
    if metadata.get("tokenizer.chat_template"):
        return ChatFormat(None, "template")
    return guess_chat_format(read_gguf_metadata(path, arrays=frozenset({"tokenizer.ggml.tokens"})))
