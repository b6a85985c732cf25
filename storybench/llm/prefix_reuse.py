"""Prompt-cache reuse for the embedded llama.cpp backend, across the model's own token splits.

llama-cpp-python reuses the longest *token* prefix a new prompt shares with what the
context evaluated last. A chat transcript sends the model's earlier answer back as
text, and re-tokenizing that text does not always give the tokens the model sampled:
a sampled answer may spell "lighthouse" as `` l`` + ``ighth`` + ``ouse`` where the
tokenizer writes `` lighthouse``. The reuse then stops at the first such split, and
everything after it (most of the answer and the new turn) is evaluated again.

:class:`CachedPrefixTokenizer` wraps the model's tokenizer (llama-cpp-python's
``Llama.tokenizer_`` extension point). While :attr:`~CachedPrefixTokenizer.active`
(the backend turns it on only while a chat request tokenizes its prompt), a prompt
whose bytes begin with the bytes of the context's evaluated tokens is given those
very tokens for that head and the standard tokens for the rest, so the cache covers
the whole earlier answer. It only does so when the standard tokens spell the prompt
back exactly (byte-level BPE vocabularies: SmolLM2, Qwen, Llama 3); otherwise, and
for every other tokenization (token counts, stop strings), it is the plain tokenizer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CachedPrefixTokenizer"]


class CachedPrefixTokenizer:
    """A llama-cpp-python tokenizer that spells a prompt's head with the context's cached tokens.

    Args:
        llama: the ``llama_cpp.Llama`` whose context is reused; its current ``tokenizer_`` is wrapped.

    Attributes:
        active: heal prompts against the context now (off: the plain tokenizer).
        healed: tokens of the last healed prompt's head taken from the context (0 when not healed).
    """

    def __init__(self, llama: Any) -> None:
        self._llama = llama
        self._base = llama.tokenizer_
        self._pieces: dict[int, bytes] = {}
        self.active = False
        self.healed = 0

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = True) -> list[int]:
        """Token ids of ``text`` (see the module doc for the head taken from the context)."""
        tokens: list[int] = list(self._base.tokenize(text, add_bos, special))
        if not (self.active and special and text):
            return tokens
        return self._heal(tokens, text)

    def detokenize(self, tokens: list[int], prev_tokens: list[int] | None = None, special: bool = False) -> bytes:
        """The bytes of ``tokens`` (the wrapped tokenizer's)."""
        out: bytes = self._base.detokenize(tokens, prev_tokens=prev_tokens, special=special)
        return out

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = bytes(self._base.detokenize([token], special=True))
        return piece

    def _heal(self, standard: list[int], text: bytes) -> list[int]:
        """``standard`` with its head replaced by the cached tokens that spell the same bytes."""
        self.healed = 0
        cached = [int(t) for t in self._llama._input_ids[: self._llama.n_tokens]]
        if not cached:
            return standard
        spelled = b"".join(self._piece(t) for t in standard)
        if not spelled.endswith(text):  # the vocabulary does not spell text back exactly
            return standard
        lead = len(spelled) - len(text)  # a BOS the tokenizer added
        pos = taken = 0
        for token in cached:
            piece = self._piece(token)
            if not piece or not spelled.startswith(piece, pos):
                break
            pos, taken = pos + len(piece), taken + 1
        same = next((i for i, (a, b) in enumerate(zip(standard, cached, strict=False)) if a != b), None)
        same = min(len(standard), len(cached)) if same is None else same
        if taken <= same or pos < lead:
            return standard
        self.healed = taken
        rest = spelled[pos:]
        return cached[:taken] + (list(self._base.tokenize(rest, False, True)) if rest else [])
