"""The rolling summary of a story branch, written by the LLM once per segment.

:func:`write_summary` asks for the summary as JSON constrained by a schema whose
string has a ``maxLength``; the embedded llama.cpp backend turns the schema into a
grammar, so even the 135M default model can only answer a valid, short summary.
If the model still fails (a server without constrained output, an empty answer),
the summary falls back to an extract (the previous summary plus the new segment's
first sentences, cut to the limit), and :attr:`Summary.written_by` says so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from storybench.exceptions import BackendError
from storybench.llm.base import LLMBackend, Message

__all__ = ["SUMMARY_MAX_CHARS", "Summary", "extract_summary", "write_summary"]

log = logging.getLogger(__name__)
SUMMARY_MAX_CHARS = 600
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


class _SummaryAnswer(BaseModel):
    summary: str = Field(
        min_length=1,
        max_length=SUMMARY_MAX_CHARS,
        description="the story so far in a few short sentences: who, where, what happened, what is known",
    )


@dataclass(frozen=True)
class Summary:
    """A rolling summary.

    Attributes:
        text: the summary (at most :data:`SUMMARY_MAX_CHARS` characters).
        written_by: ``"llm"``, or ``"extract"`` when the model's answer was unusable.
    """

    text: str
    written_by: Literal["llm", "extract"]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def extract_summary(previous: str | None, segment_text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """The previous summary plus the segment's first two sentences, keeping the newest
    text when over ``limit`` characters (no model needed)."""
    first = " ".join(_SENTENCE.split(" ".join(segment_text.split()))[:2])
    joined = " ".join(p for p in (previous or "", first) if p)
    if len(joined) <= limit:
        return joined
    return "…" + joined[-(limit - 1) :].split(" ", 1)[-1]


def write_summary(
    llm: LLMBackend,
    previous: str | None,
    segment_text: str,
    *,
    language: str = "en",
    seed: int | None = 0,
    max_tokens: int = 320,
) -> Summary:
    """The summary of the story up to and including a new segment.

    Args:
        llm: the story's LLM backend (constrained JSON output through ``structured``).
        previous: the parent segment's summary (``None`` for the first segment).
        segment_text: the new segment's text.
        language: the story's language (BCP 47), which the summary is written in.
        seed: sampler seed (``None``: random).
        max_tokens: most tokens of the answer.

    Returns:
        The :class:`Summary`; never raises for an unusable answer (falls back to an extract).

    Raises:
        BackendError: not raised; backend failures fall back to an extract and are logged.
    """
    messages = [
        Message(
            role="system",
            content=(
                "You keep the running summary of a story. Write it in the story's language "
                f"({language}), in at most five short sentences: who is there, where, what happened, "
                "what has been learned. Keep every fact from the previous summary that still matters."
            ),
        ),
        Message(
            role="user",
            content=f"Previous summary:\n{previous or '(none: this is the start)'}\n\nNew part:\n{segment_text}",
        ),
    ]
    try:
        answer = llm.structured(messages, _SummaryAnswer, attempts=2, temperature=0.2, seed=seed, max_tokens=max_tokens)
        text = _clip(answer.summary, SUMMARY_MAX_CHARS)
        if text:
            return Summary(text, "llm")
    except BackendError as exc:
        log.warning("summary: the model's answer was unusable (%s); using an extract", exc)
    return Summary(extract_summary(previous, segment_text), "extract")
