"""A small page preview for the editor: storyboard panels composed into a page.

Uses the storyboard renderer (``storybench.render.storyboard``) and page composition
(``storybench.compose.compose_page``), both imported lazily: when either is
missing, :func:`render_page_preview` raises ImportError and the editor shows a
message instead of a picture.
"""

from __future__ import annotations

import io
from typing import Any

from storybench.config import RenderSettings
from storybench.plan.layouts import panel_rects
from storybench.plan.models import ComicPlan, Page
from storybench.plan.styles import get_style
from storybench.prompts.panel import panel_render_spec, render_size

__all__ = ["page_lettering", "preview_settings", "render_page_preview", "safe_page_preview"]

_US_PAGE = (1988, 3075)


def preview_settings(page_width: int = 600) -> RenderSettings:
    """Render settings of a preview ``page_width`` pixels wide: US comic page
    proportions, margin, gutter and border scaled down, panels at most 256 px."""
    scale = page_width / _US_PAGE[0]
    return RenderSettings(
        page_width=page_width,
        page_height=max(256, round(_US_PAGE[1] * scale)),
        dpi=72,
        margin=max(4, round(75 * scale)),
        gutter=max(3, round(38 * scale)),
        border=max(1, round(6 * scale)),
        panel_max_side=max(64, min(256, page_width // 2)),
    )


def render_page_preview(plan: ComicPlan, page: Page, page_width: int = 600) -> Any:
    """The page composed from storyboard panel images, as a ``PIL.Image``.

    Args:
        plan: the plan (its characters and style are used).
        page: one of its pages.
        page_width: preview width in pixels.

    Raises:
        ImportError: page composition or the storyboard renderer is not installed.
        KeyError: a panel names an unknown character or the style is unknown.
        ValueError: the page's panel count does not fit its layout.
    """
    from PIL import Image

    # Resolved at call time, not at import: the editor works without page composition and
    # the storyboard renderer (it shows a message), and tests stand in for them.
    try:
        from storybench.compose import compose_page
        from storybench.render.storyboard import StoryboardBackend
    except ImportError as exc:
        raise ImportError(f"the page preview needs {exc.name or 'storybench.compose'}, which is not installed") from exc
    settings = preview_settings(page_width)
    rtl = settings.reading_direction == "rtl" or get_style(plan.style).reading_direction == "rtl"
    rects = panel_rects(
        page.layout, settings.page_width, settings.page_height, margin=settings.margin, gutter=settings.gutter, rtl=rtl
    )
    if len(rects) != len(page.panels):
        raise ValueError(f"layout {page.layout!r} needs {len(rects)} panels, the page has {len(page.panels)}")
    backend = StoryboardBackend()
    images = {}
    for panel in sorted(page.panels, key=lambda p: p.position):
        rect = rects[panel.position - 1]
        w, h = render_size(rect.width, rect.height, settings.panel_max_side)
        result = backend.render(panel_render_spec(plan, panel, w, h))
        images[panel.id] = Image.open(io.BytesIO(result.image))
    return compose_page(plan, page, images, settings)


def safe_page_preview(plan: ComicPlan, page: Page, page_width: int = 600) -> tuple[Any, str]:
    """:func:`render_page_preview` that never raises: ``(PIL.Image, "")`` or ``(None, message)``."""
    try:
        return render_page_preview(plan, page, page_width), ""
    except ImportError as exc:
        return None, f"page preview unavailable: {exc}"
    except Exception as exc:
        return None, f"page preview failed: {exc}"


def page_lettering(plan: ComicPlan, page: Page) -> str:
    """The page's lettering in reading order, as one text (the preview's text alternative):
    ``"Page 1. Panel 1: caption “Rain.” Panel 4: Mara: “Slow down.” ..."``; panels without
    lettering are named by their action."""
    names = {c.id: c.name for c in plan.characters}
    parts = [f"Page {page.page_number}."]
    for panel in sorted(page.panels, key=lambda p: p.position):
        bits = []
        if panel.narrative:
            bits.append(f"caption “{panel.narrative}”")
        bits += [f"{names.get(d.character, d.character)}: “{d.text}”" for d in panel.dialogue]
        if panel.sfx:
            bits.append(f"sound “{panel.sfx}”")
        parts.append(f"Panel {panel.position}: " + ("; ".join(bits) if bits else f"({panel.action})"))
    return " ".join(parts)
