"""Chat messages of the story loop: the system prompt and the context of one segment.

The system prompt gives the narrative style (from the story's style id), the
structure of a segment and the rules for choices, and ends with the shape of
the answer with bracketed placeholders — small models (SmolLM2-135M) copy shapes
far better than they follow rules (and copy real example sentences verbatim).
The context (user message) carries the premise, a bounded summary of
the story so far (the first sentence of each earlier segment on the path, newest
kept when over budget), the chapter, the last three choices taken and what to write
now. Identical prompts go to every backend.

A segment after a choice is usually asked for by continuing its parent's request
(:mod:`storybench.story.transcript`): the parent's request and answer, then the short
user turn of :func:`turn_message`.
"""

from __future__ import annotations

import re

from storybench.llm.base import Message
from storybench.story.model import Segment, Story
from storybench.world.context import Block, Context

__all__ = [
    "LANGUAGE_NAMES",
    "NARRATIVE_STYLES",
    "SEGMENT_STOP",
    "choices_messages",
    "context_lines",
    "continue_messages",
    "first_sentence",
    "language_name",
    "segment_head",
    "segment_messages",
    "story_summary",
    "system_prompt",
    "turn_head",
    "turn_message",
]

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "uk": "Ukrainian (українська)",
    "ru": "Russian (русский)",
    "fr": "French (français)",
    "de": "German (Deutsch)",
    "es": "Spanish (español)",
    "it": "Italian (italiano)",
    "pl": "Polish (polski)",
    "pt": "Portuguese (português)",
}

NARRATIVE_STYLES: dict[str, str] = {
    "noir": "hard-boiled noir: terse sentences, rain, shadows, moral doubt, first-person cynicism",
    "manga": "dynamic manga storytelling: fast action beats, strong emotions, vivid sound and motion",
    "american-classic": "classic comic-book adventure: bold heroes, clear stakes, punchy action",
    "watercolor": "gentle storybook tale: soft imagery, wonder, warm and calm narration",
    "ligne-claire": "clear adventure tale in the Tintin tradition: curious hero, precise places, light humour",
    "cyberpunk": "cyberpunk thriller: neon city, hackers and corporations, tense and gritty",
}

_SHAPE = "[the scene: 2-3 short paragraphs]\n\n1. [an action]\n2. [another action]\n3. [a third action]"
"""The answer's shape, shown with placeholders: small models copy real example sentences verbatim."""

SEGMENT_STOP: tuple[str, ...] = ("\n5.", "\n5)", "\n**5", "<|im_end|>", "<|endoftext|>", "\n\n\n\n")
"""Stop strings of a segment request: a fifth choice, chat end markers, runaway blank lines."""

_SENTENCE = re.compile(r"^(.+?[.!?…])(?:\s|$)", re.S)


def language_name(language: str) -> str:
    """A model-friendly name of a BCP-47 tag (``"uk"`` -> ``"Ukrainian (українська)"``)."""
    primary = language.split("-")[0].lower()
    return LANGUAGE_NAMES.get(primary, language)


def first_sentence(text: str, max_chars: int = 160) -> str:
    """The first sentence of ``text`` (at most ``max_chars`` characters, cut on a word)."""
    flat = re.sub(r"\s+", " ", text).strip()
    m = _SENTENCE.match(flat)
    s = m.group(1) if m else flat
    if len(s) > max_chars:
        s = s[:max_chars].rsplit(" ", 1)[0] + "…"
    return s


def story_summary(story: Story, segment_id: str | None, max_chars: int = 700) -> str:
    """A compact summary of the path up to ``segment_id`` inclusive: first sentence of
    each segment, joined; when longer than ``max_chars`` the oldest are dropped (the
    opening sentence is always kept). ``""`` when there is no path."""
    if segment_id is None:
        return ""
    sentences = [first_sentence(s.text) for s in story.path(segment_id) if s.text.strip()]
    if not sentences:
        return ""
    opening, rest = sentences[0], sentences[1:]
    kept: list[str] = []
    budget = max_chars - len(opening)
    for s in reversed(rest):
        if budget - len(s) - 1 < 0:
            break
        kept.insert(0, s)
        budget -= len(s) + 1
    if len(kept) < len(rest):
        return " ".join([opening, "…", *kept])
    return " ".join([opening, *kept])


def system_prompt(style: str, language: str) -> str:
    """The system prompt of every segment request (see the module doc)."""
    lang = language_name(language)
    tone = NARRATIVE_STYLES.get(style, "engaging interactive fiction")
    return (
        "You are the narrator of an interactive story. "
        f"Style: {tone}.\n"
        f"Write ONLY in {lang}.\n"
        "Structure: one short scene of 2-3 paragraphs (80-150 words), in the second person or "
        "the hero's voice, continuing directly from the last choice. No titles, no notes.\n"
        "Then end with 2-4 numbered choices, each on its own line, each a short action (2-8 words), "
        "all different. Write nothing after the choices.\n"
        f"Shape of the answer (replace the brackets; write in {lang}):\n{_SHAPE}"
    )


_BLOCK_HEADS = {
    "world_before": "World info:\n",
    "world_depth": "World info:\n",
    "world_after": "World info:\n",
    "summary": "Memory (the story so far): ",
    "earlier": "Earlier scene:\n",
    "segment": "Recent scene:\n",
    "author_note": "[Author's note: ",
}


def _block_line(block: Block) -> str:
    text = _BLOCK_HEADS.get(block.kind, "") + block.text
    return text + "]" if block.kind == "author_note" else text


def context_lines(context: Context) -> list[str]:
    """The lines of a built context as sent in a segment request, in the context's order
    (the premise is sent on its own line, so it is left out here)."""
    return [_block_line(b) for b in context.blocks if b.kind != "premise" and b.text]


def segment_messages(
    story: Story, parent_id: str | None, choice_text: str | None, context: Context | None = None
) -> list[Message]:
    """Chat messages for the segment continuing ``parent_id`` after ``choice_text``
    (an opening when ``parent_id`` is ``None``); with ``context`` (from
    :class:`~storybench.story.memory.BranchMemory`) its world info, summary, recent
    scenes and author's note come after the premise, in the context's order. The user
    message begins with :func:`segment_head` (the same for every choice of ``parent_id``)."""
    s = story.settings
    lines = [segment_head(story, parent_id, context)]
    if parent_id is not None:
        recent = story.recent_choices(parent_id, 2) + ([choice_text] if choice_text else [])
        if recent:
            lines.append("Last choices: " + "; ".join(recent[-3:]) + ".")
        lines.append(f"The reader chose: {choice_text}. Write what happens next.")
    else:
        lines.append("Chapter 1, scene 1. Write the opening scene.")
    lines.append(f"Language: {language_name(s.language)}. End with numbered choices.")
    return [
        Message(role="system", content=system_prompt(s.style, s.language)),
        Message(role="user", content="".join(lines[:1]) + "\n".join(lines[1:])),
    ]


def segment_head(story: Story, parent_id: str | None, context: Context | None = None) -> str:
    """The start of a request built afresh, up to the reader's choice (ending in a newline):
    the premise, the context's lines, the story so far and the chapter. A backend can
    evaluate it while the reader reads (see :meth:`~storybench.story.memory.BranchMemory.prime`)."""
    lines = [f"Premise: {story.settings.premise}"]
    if context is not None:
        lines.extend(context_lines(context))
    if parent_id is not None:
        summary = story_summary(story, parent_id)
        if summary:
            lines.append(f"Story so far: {summary}")
        lines.append(_chapter_line(story, parent_id))
    return "\n".join(lines) + "\n"


def _chapter_line(story: Story, parent_id: str) -> str:
    depth = story.depth(parent_id) + 1
    per = story.settings.segments_per_chapter
    return f"Chapter {depth // per + 1}, scene {depth % per + 1}."


def turn_head(story: Story, parent_id: str, author_note: str = "") -> str:
    """The start of every turn after ``parent_id``'s answer, whatever the choice: the chapter,
    the language and the author's note (a backend can evaluate it while the reader reads)."""
    language = language_name(story.settings.language)
    head = f"{_chapter_line(story, parent_id)} Language: {language}. End with numbered choices.\n"
    return head + (f"[Author's note: {author_note}]\n" if author_note else "")


def turn_message(story: Story, parent_id: str, choice_text: str, world: str = "", author_note: str = "") -> Message:
    """The user turn that continues a transcript after ``parent_id``'s answer: the
    :func:`turn_head`, the world info not sent before (``world``), the reader's choice."""
    world_lines = f"World info:\n{world}\n" if world else ""
    return Message(
        role="user",
        content=f"{turn_head(story, parent_id, author_note)}{world_lines}"
        f"The reader chose: {choice_text}. Write what happens next.",
    )


def continue_messages(
    story: Story, segment: Segment, context: Context | None = None, request: list[Message] | None = None
) -> list[Message]:
    """Messages that finish an unfinished ``segment``: its request (``request`` when known,
    else built afresh with ``context``), the text written so far as the assistant's turn, and
    a user turn asking to go on from the last word."""
    base = request or segment_messages(story, segment.parent_id, segment.choice_text or None, context)
    lang = language_name(story.settings.language)
    return [
        *base,
        Message(role="assistant", content=segment.text[-1500:]),
        Message(
            role="user",
            content=(
                f"Continue this scene in {lang} exactly where it stops (do not repeat it), "
                "finish it in a few sentences, then end with numbered choices."
            ),
        ),
    ]


def choices_messages(narrative: str, language: str, world: str = "") -> list[Message]:
    """Messages of the structured re-ask: three short choices for ``narrative`` (with the
    world info that fired for the segment, when given)."""
    return [
        Message(
            role="system",
            content=(
                "You suggest what the hero of an interactive story can do next. "
                f"Answer in {language_name(language)} with JSON: "
                '{"choices": ["...", "...", "..."]} — exactly 3 short, different actions (2-8 words each), '
                "each starting with a verb: what the hero does next."
            ),
        ),
        Message(
            role="user",
            content=(f"World info:\n{world[-1000:]}\n\n" if world else "")
            + f"Scene:\n{narrative[-1500:]}\n\nThree choices:",
        ),
    ]
