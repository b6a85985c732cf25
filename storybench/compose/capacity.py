"""Lettering warnings: panels whose text cannot be lettered at the minimum readable size,
or cannot be set with the fonts installed here.

A panel gets a warning when any of its dialogue lines, its caption or its SFX fits
nowhere in the panel at :attr:`~storybench.config.RenderSettings.min_text_px`
without covering other lettering or a balloon's tail (the layout of
:func:`storybench.compose.lettering.layout_panel`, the same one pages are drawn
with), and one when a placed text has characters no installed font has a glyph for
(they would print as boxes) or needs libraqm's shaping that Pillow lacks
(:class:`~storybench.compose.lettering.GlyphGap`). :func:`lettering_warnings` checks a
whole plan before any render (what ``storybench validate`` prints); :func:`page_warnings`
one page (what the batch engine records in the catalog's ``warnings`` column and the
run summary).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from storybench.compose.lettering import PanelLettering
from storybench.compose.page import page_lettering_layout
from storybench.config import RenderSettings
from storybench.plan.models import ComicPlan, Page

__all__ = ["LetteringWarning", "lettering_warnings", "page_warnings"]


class LetteringWarning(BaseModel):
    """One panel whose text does not all fit.

    Attributes:
        page_number: the page, 1-based.
        position: the panel's place on the page, 1-based (reading order).
        panel_id: the panel's id.
        path: JSON path of the panel in the plan (``chapters[0].pages[2].panels[1]``).
        message: what does not fit, e.g. ``2 of 5 balloons do not fit at the minimum size 24 px``,
            or what lacks glyphs, e.g. ``no installed font has glyphs for 𓀀 (U+13000) in a balloon: ...``.
        words: words of dialogue, caption and SFX in the panel.
    """

    model_config = ConfigDict(frozen=True)

    page_number: int
    position: int
    panel_id: str
    path: str
    message: str
    words: int

    def __str__(self) -> str:
        return f"page {self.page_number} panel {self.position}: {self.message}"


def _words(panel) -> int:
    texts = [line.text for line in panel.dialogue] + [panel.narrative or "", panel.sfx or ""]
    return sum(len(t.split()) for t in texts)


def _messages(layout: PanelLettering, words: int) -> list[str]:
    """What is wrong with one panel's lettering: what does not fit, then each text lacking glyphs."""
    out = []
    if not layout.fits:
        out.append(
            f"{layout.problem()} ({words} words are more than its area can letter; "
            f"{layout.words_dropped} left off the page)"
        )
    out += [gap.problem() for gap in layout.glyph_gaps]
    return out


def page_warnings(
    plan: ComicPlan, page: Page, settings: RenderSettings | None = None, *, path: str = ""
) -> list[LetteringWarning]:
    """Lettering warnings of one page (empty when every panel's text fits and has its glyphs).

    Args:
        plan: the plan.
        page: one of its pages.
        settings: page size and minimum text size (default :class:`RenderSettings`).
        path: JSON path of the page, to build each panel's path.
    """
    settings = settings or RenderSettings()
    out = []
    index = {p.id: i for i, p in enumerate(page.panels)}
    by_id = {p.id: p for p in page.panels}
    for layout in page_lettering_layout(plan, page, settings):
        panel = by_id[layout.panel_id]
        words = _words(panel)
        out += [
            LetteringWarning(
                page_number=page.page_number,
                position=panel.position,
                panel_id=panel.id,
                path=f"{path}.panels[{index[panel.id]}]" if path else f"panels[{index[panel.id]}]",
                message=message,
                words=words,
            )
            for message in _messages(layout, words)
        ]
    return out


def lettering_warnings(plan: ComicPlan, settings: RenderSettings | None = None) -> list[LetteringWarning]:
    """Lettering warnings of every page of ``plan``, in page order (no image is rendered)."""
    out = []
    for ci, chapter in enumerate(plan.chapters):
        for pi, page in enumerate(chapter.pages):
            out += page_warnings(plan, page, settings, path=f"chapters[{ci}].pages[{pi}]")
    return out
