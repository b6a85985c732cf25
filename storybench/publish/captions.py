"""Post captions: written by an LLM in the comic's language, or the plain narrative text.

The LLM gets the page's narrative and dialogue and answers JSON constrained by the
schema of :class:`CaptionAnswer` (one string of at most :data:`MAX_CAPTION`
characters), so even the tiny embedded model gives parseable output. The answer is
kept only when it is non-empty, not a copy of the instructions, the title or the
narrative, and written in the
script of the language (Cyrillic for ``uk``/``ru``/``be``/``bg``/``sr``/``mk``,
Latin for the rest of the Latin-script languages); otherwise, and whenever there is
no LLM or it fails, the caption is the narrative text (the dialogue when the page
has none, the title when it has neither), cut at a word boundary to
:data:`MAX_CAPTION` characters.
"""

from __future__ import annotations

import logging
import re

from pydantic import BaseModel, Field

from storybench.exceptions import StorybenchError
from storybench.llm.base import LLMBackend, Message
from storybench.publish.planning import PostItem

__all__ = ["MAX_CAPTION", "CaptionAnswer", "caption_messages", "fallback_caption", "llm_caption", "write_caption"]

log = logging.getLogger(__name__)

#: Longest caption, characters.
MAX_CAPTION = 300

_CYRILLIC = {"uk", "ru", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn"}
_NON_LATIN = _CYRILLIC | {"ja", "zh", "ko", "ar", "he", "el", "hi", "th", "ka", "hy", "fa"}
_LANGUAGE_NAMES = {"en": "English", "uk": "Ukrainian", "ru": "Russian", "de": "German", "fr": "French", "es": "Spanish"}


#: Longest caption asked of the LLM, characters: short enough that the JSON closes within the
#: token budget even where the tokenizer spends a token per letter (Cyrillic in SmolLM2).
LLM_CAPTION_CHARS = 160


class CaptionAnswer(BaseModel):
    """The LLM's answer: one social-media caption."""

    caption: str = Field(
        description="a short caption for the post, in the requested language", max_length=LLM_CAPTION_CHARS
    )


def cut(text: str, limit: int = MAX_CAPTION) -> str:
    """``text`` with its spaces collapsed, cut at a word boundary to ``limit`` characters (with "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-—") + "…"


def fallback_caption(post: PostItem, title: str = "") -> str:
    """The plain caption: the narrative text, else the dialogue, else ``title``; at most :data:`MAX_CAPTION`."""
    text = post.narrative or " ".join(post.dialogue) or title or post.label
    return cut(text)


def caption_messages(post: PostItem, language: str, title: str) -> list[Message]:
    """The chat messages asking for a caption of ``post`` in ``language`` (BCP-47)."""
    lang = _LANGUAGE_NAMES.get(language.split("-")[0].lower(), language)
    lines = [f"Title: {title}"]
    if post.narrative:
        lines.append(f"Narrative: {post.narrative}")
    if post.dialogue:
        lines.append("Dialogue:\n" + "\n".join(post.dialogue[:12]))
    return [
        Message(
            role="system",
            content=(
                f"You write one short social media caption for a comic page, in {lang}. "
                f'At most 150 characters. No hashtags. Answer JSON: {{"caption": "..."}}'
            ),
        ),
        Message(role="user", content="\n".join(lines)[:2000]),
    ]


def _script_shares(letters: list[str]) -> tuple[float, float]:
    """The shares (0..1) of Cyrillic and of Latin letters among ``letters`` (not empty)."""
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff") / len(letters)
    latin = sum(1 for ch in letters if ch.isascii() or "\u00c0" <= ch <= "\u024f") / len(letters)
    return cyrillic, latin


def _script_ok(text: str, language: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 8:
        return False
    base = language.split("-")[0].lower()
    cyrillic, latin = _script_shares(letters)
    if base in _CYRILLIC:
        return cyrillic >= 0.6
    if base in _NON_LATIN:
        return latin < 0.5
    return latin >= 0.8


def llm_caption(llm: LLMBackend, post: PostItem, language: str, title: str) -> str | None:
    """The LLM's caption of ``post``, or ``None`` when it failed or did not pass the checks (see module doc)."""
    try:
        answer = llm.structured(
            caption_messages(post, language, title), CaptionAnswer, attempts=1, max_tokens=240, temperature=0.4
        )
    except StorybenchError as exc:
        log.info("caption of %s: LLM failed (%s); using the narrative", post.label, exc)
        return None
    text = " ".join(answer.caption.split()).strip().strip('"')
    copied = text.casefold() in {title.casefold().strip(), post.narrative.casefold().strip()}
    if (
        not text
        or copied
        or re.search(r"social media caption|answer json", text, re.I)
        or not _script_ok(text, language)
    ):
        log.info("caption of %s: LLM answer rejected; using the narrative", post.label)
        return None
    return cut(text)


def write_caption(llm: LLMBackend | None, post: PostItem, language: str, title: str) -> str:
    """The caption of ``post``: the LLM's when it gives a usable one, else :func:`fallback_caption`."""
    if llm is not None:
        made = llm_caption(llm, post, language, title)
        if made:
            return made
    return fallback_caption(post, title)
