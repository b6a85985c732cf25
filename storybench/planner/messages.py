"""The chat messages of the three planning stages.

Every prompt repeats the limits the schema enforces (counts, enums) in words:
the schema constrains decoding, the words steer the content. Dialogue and
captions are asked for in the plan's language; everything an image model reads
(action, location, appearance, clothing) in English.
"""

from __future__ import annotations

from collections.abc import Sequence

from storybench.llm.base import Message
from storybench.plan.layouts import TEMPLATES
from storybench.plan.styles import get_style
from storybench.planner.schemas import CAMERA_SHOTS, PageCountRule
from storybench.prompts.language import language_name

__all__ = ["SYSTEM_PROMPT", "characters_messages", "language_name", "panels_messages", "structure_messages"]

SYSTEM_PROMPT = (
    "You are a comic book writer and editor. You plan comics as JSON that exactly follows the "
    "given schema. Keep every text short and concrete. Answer with JSON only."
)


def _lettering_rule(language: str) -> str:
    lang = language_name(language)
    return (
        f"Write dialogue lines and captions in {lang}. "
        "Write action, location, appearance and clothing in English (they go to an image model)."
    )


def _world_lines(world: str) -> str:
    return f"The story's world (use these characters and places):\n{world}\n" if world else ""


def characters_messages(prompt: str, style: str, max_characters: int, world: str = "") -> list[Message]:
    """Stage 1: the cast of the story in ``prompt``, drawn in ``style`` (offered the
    ``world``'s characters and places, :func:`~storybench.planner.world_brief.world_brief`)."""
    s = get_style(style)
    user = (
        f"Story idea: {prompt}\n"
        f"{_world_lines(world)}"
        f"Art style: {s.name} ({s.prompt_prefix}).\n"
        f"List the main characters (1 to {max_characters}). For each give: name (short), "
        "appearance (face, hair, build, age; in English), clothing (in English), role in the story "
        "(hero, villain, mentor, sidekick, ...).\n"
        'Answer as JSON: {"characters": [{"name": ..., "appearance": ..., "clothing": ..., "role": ...}]}'
    )
    return [Message(role="system", content=SYSTEM_PROMPT), Message(role="user", content=user)]


def _cast_lines(characters: Sequence[tuple[str, str, str]]) -> str:
    return "\n".join(f"- {cid}: {name} ({role})" if role else f"- {cid}: {name}" for cid, name, role in characters)


def structure_messages(
    prompt: str, style: str, characters: Sequence[tuple[str, str, str]], rule: PageCountRule, world: str = ""
) -> list[Message]:
    """Stage 2: title, chapters and pages (a summary and a layout each).

    Args:
        characters: ``(id, name, role)`` of each character.
        rule: the chapter and page bounds.
        world: the world's characters and places (``""``: none).
    """
    layouts = "\n".join(f"- {t}: {TEMPLATES[t].description} ({TEMPLATES[t].panel_count} panels)" for t in rule.layouts)
    if rule.min_chapters == rule.max_chapters:
        chapters = f"exactly {rule.min_chapters} chapter" + ("s" if rule.min_chapters > 1 else "")
    else:
        chapters = f"{rule.min_chapters} to {rule.max_chapters} chapters"
    if rule.min_pages == rule.max_pages_total:
        pages = f"exactly {rule.min_pages} page" + ("s" if rule.min_pages > 1 else "")
    else:
        pages = f"{rule.min_pages} to {rule.max_pages_total} pages in total"
    user = (
        f"Story idea: {prompt}\n{_world_lines(world)}Art style: {get_style(style).name}.\n"
        f"Characters:\n{_cast_lines(characters)}\n"
        f"Plan the comic: a short title, {chapters}, {pages}. Each chapter has a short title; each page has "
        "a one-sentence summary of what happens and a layout chosen from:\n"
        f"{layouts}\n"
        "Pick layouts with more panels for busy pages and 'single' for a big moment.\n"
        'Answer as JSON: {"title": ..., "chapters": [{"title": ..., "pages": [{"summary": ..., "layout": ...}]}]}'
    )
    return [Message(role="system", content=SYSTEM_PROMPT), Message(role="user", content=user)]


def panels_messages(
    prompt: str,
    style: str,
    language: str,
    characters: Sequence[tuple[str, str, str]],
    chapter_title: str,
    page_number: int,
    page_summary: str,
    layout: str,
    previous_summary: str | None = None,
) -> list[Message]:
    """Stage 3: the panels of one page; the panel count is stated in words too."""
    n = TEMPLATES[layout].panel_count
    cast = _cast_lines(characters) if characters else "- (none)"
    before = f"Previous page: {previous_summary}\n" if previous_summary else ""
    user = (
        f"Story idea: {prompt}\nArt style: {get_style(style).name}.\nCharacters (use these ids):\n{cast}\n"
        f"Chapter: {chapter_title}\n{before}Page {page_number}: {page_summary}\n"
        f"Layout '{layout}': {TEMPLATES[layout].description}.\n"
        f"Write exactly {n} panel{'s' if n > 1 else ''} in reading order. For each panel give: characters "
        "(ids of those visible), action (what is seen), location (place and time of day), mood (one word), "
        f"camera (one of: {', '.join(CAMERA_SHOTS)}), dialogue (0 to 2 lines, each with the speaker's id "
        "and the text), narrative (caption or empty), sfx (sound effect or empty).\n"
        f'{_lettering_rule(language)}\nAnswer as JSON: {{"panels": [...{n} panel objects...]}}'
    )
    return [Message(role="system", content=SYSTEM_PROMPT), Message(role="user", content=user)]
