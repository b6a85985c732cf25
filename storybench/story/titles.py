"""Story titles written by the LLM, short and valid even from a tiny model.

The request is constrained by :class:`StoryTitle`'s JSON Schema (backends that support
it, llama.cpp through a grammar, turn it into a constraint on the tokens, so even
SmolLM2-135M answers with a JSON string of at most :data:`MAX_TITLE_CHARS`
characters); the answer is then cleaned (:func:`clean_title`: quotes, markdown and a
"Title:" prefix removed, at most :data:`MAX_TITLE_WORDS` words) and refused when it
has no letters, repeats itself or only copies the premise's opening words. A refused
or failed title is ``""``: the story keeps its premise-based title.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from storybench.exceptions import StorybenchError
from storybench.llm.base import LLMBackend, Message
from storybench.story.messages import language_name
from storybench.story.model import Story

__all__ = ["MAX_TITLE_CHARS", "MAX_TITLE_WORDS", "StoryTitle", "clean_title", "title_messages", "write_title"]

MAX_TITLE_CHARS = 60
MAX_TITLE_WORDS = 7


class StoryTitle(BaseModel):
    """The constrained answer of a title request."""

    title: Annotated[str, StringConstraints(min_length=2, max_length=MAX_TITLE_CHARS, strip_whitespace=True)] = Field(
        description="a short book title of 2 to 6 words for the story, in the story's language, without quotes"
    )


def title_messages(story: Story) -> list[Message]:
    """The chat messages asking for a title of ``story`` (its premise and opening)."""
    opening = story.roots()[0].text[:600] if story.roots() else ""
    language = language_name(story.settings.language)
    return [
        Message(
            role="system",
            content=(
                f"You name stories. Answer with a short book title of 2 to 6 words in {language}, "
                'as JSON: {"title": "..."}. No quotes inside the title, no explanations.'
            ),
        ),
        Message(role="user", content=f"Premise: {story.settings.premise[:400]}\n\nOpening: {opening}\n\nTitle:"),
    ]


def clean_title(text: str) -> str:
    """A title without wrapping quotes, markdown, a "Title:" prefix or a final full stop,
    whitespace collapsed, cut at its first clause mark when two words or more come before
    it, and to :data:`MAX_TITLE_WORDS` words; ``""`` when no letters remain or a word
    repeats three times."""
    t = re.sub(r"[*_`#]+", "", text.replace("\n", " "))
    t = re.sub(r"^\s*(?:title|назва|название|titre|titel|título|titolo|tytuł)\s*[:\-–—]\s*", "", t, flags=re.I)
    t = re.sub(r"\s+", " ", t).strip(" \"'“”„«»‹›.,;:")
    head = re.split(r"\s*[:;,.!?—–]\s*", t, maxsplit=1)[0]
    if len(head.split()) >= 2:  # "Lighthouse keeper: The lighthouse keeper, the one who" -> "Lighthouse keeper"
        t = head
    words = t.split()[:MAX_TITLE_WORDS]
    t = " ".join(words)[:MAX_TITLE_CHARS].rstrip(" ,;:-–—")
    if not re.search(r"[^\W\d_]{2}", t):
        return ""
    folded = [w.casefold() for w in words]
    if any(folded.count(w) >= 3 for w in folded):
        return ""
    return t


def write_title(llm: LLMBackend, story: Story) -> str:
    """A title for ``story`` from ``llm`` (see the module doc), ``""`` when none passes.

    The caller holds whatever lock the LLM needs. LLM errors give ``""``.
    """
    try:
        answer = llm.structured(title_messages(story), StoryTitle, attempts=2, max_tokens=40, temperature=0.3)
    except (StorybenchError, ValueError):
        return ""
    title = clean_title(answer.title)
    premise_start = " ".join(story.settings.premise.split()[: len(title.split())])
    if title.casefold() == premise_start.casefold():
        return ""  # the premise's first words: what the fallback title already is
    return title
