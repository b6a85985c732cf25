"""A comic page's text for readers who cannot see it: the lettering in reading order.

The comic EPUB gives every page image this text as its ``alt``, so a screen reader
reads the comic's words: panel by panel (``position`` order, the reading order of the
layout), each panel's caption first, then its dialogue lines with their speakers'
names, then its sound effect — the order :mod:`storybench.compose.lettering` letters
them in. The labels ("Page", "Panel", "Caption"...) are in the plan's language
(:data:`PAGE_WORDS`, by primary subtag; English when there are none), so a Ukrainian
book is read in Ukrainian.

Example (``uk``): ``Сторінка 2. Панель 1. Оксана: «Я Оксана з Яворова.» Панель 2.
Напис: «Ліс затих.» Звук: «ТРІСЬ!»``
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storybench.plan.models import ComicPlan, Page, PanelPlan

__all__ = ["PAGE_WORDS", "PageWords", "cover_alt_text", "page_alt_text", "page_words", "panel_lines"]


@dataclass(frozen=True)
class PageWords:
    """Labels of one language; ``open`` and ``close`` are its quotation marks."""

    page: str
    panel: str
    caption: str
    sfx: str
    silent: str
    cover: str
    open: str
    close: str
    summary: str


#: Labels by primary language subtag; ``"en"`` is the fallback.
PAGE_WORDS: dict[str, PageWords] = {
    "en": PageWords(
        page="Page",
        panel="Panel",
        caption="Caption",
        sfx="Sound",
        silent="no words",
        cover="Cover",
        open="“",
        close="”",
        summary=(
            "A comic of full-page images in fixed layout. Each page's text alternative gives its "
            "lettering in reading order: captions, dialogue with the speaker's name, and sound effects; "
            "the artwork itself is not described."
        ),
    ),
    "uk": PageWords(
        page="Сторінка",
        panel="Панель",
        caption="Напис",
        sfx="Звук",
        silent="без слів",
        cover="Обкладинка",
        open="«",
        close="»",
        summary=(
            "Комікс зі сторінок-зображень у фіксованій верстці. Текстова альтернатива кожної сторінки "
            "подає її написи в порядку читання: підписи, репліки з іменем мовця та звукові ефекти; "
            "саме зображення не описано."
        ),
    ),
}


def page_words(language: str) -> PageWords:
    """The labels for a BCP-47 ``language`` tag, English when it has none."""
    return PAGE_WORDS.get(language.split("-", 1)[0].lower(), PAGE_WORDS["en"])


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def panel_lines(plan: ComicPlan, panel: PanelPlan, words: PageWords) -> list[str]:
    """The lettering of ``panel`` as sentences: caption, each dialogue line with its speaker, SFX."""
    quote = lambda text: f"{words.open}{_one_line(text)}{words.close}"  # noqa: E731
    lines = []
    if panel.narrative and panel.narrative.strip():
        lines.append(f"{words.caption}: {quote(panel.narrative)}")
    names = {c.id: c.name for c in plan.characters}
    for line in panel.dialogue:
        if line.text.strip():
            lines.append(f"{names.get(line.character, line.character)}: {quote(line.text)}")
    if panel.sfx and panel.sfx.strip():
        lines.append(f"{words.sfx}: {quote(panel.sfx)}")
    return lines


def page_alt_text(plan: ComicPlan, page: Page) -> str:
    """The text alternative of ``page``: its number, then every panel's lettering in reading order."""
    words = page_words(plan.language)
    parts = [f"{words.page} {page.page_number}."]
    for panel in sorted(page.panels, key=lambda p: p.position):
        lines = panel_lines(plan, panel, words) or [words.silent]
        parts.append(f"{words.panel} {panel.position}. " + " ".join(lines))
    return " ".join(parts)


def cover_alt_text(plan: ComicPlan) -> str:
    """The text alternative of the cover: the title and the characters' names, as lettered on it."""
    words = page_words(plan.language)
    names = ", ".join(c.name for c in plan.characters)
    title = _one_line(plan.title)
    return f"{words.cover}: {title}." + (f" {names}." if names else "")
