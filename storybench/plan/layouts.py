"""Page layout templates and their geometry.

A template is a list of panel cells in reading order, each a rectangle in page
fractions (0..1 of the live area inside the margins). :func:`panel_rects` turns a
template into pixel rectangles for a page size, margin and gutter: outer cell edges
sit on the margin, inner edges are pulled back by half a gutter on each side so
neighbouring panels are exactly one gutter apart.

Reading direction: ``manga-3`` is drawn right to left (panel 1 at the top right).
Any other template on a right-to-left page (a manga-style plan) is mirrored
horizontally, so its panel 1 also sits at the right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

__all__ = [
    "LAYOUT_FOR_COUNT",
    "TEMPLATES",
    "TEMPLATE_IDS",
    "Rect",
    "Template",
    "TemplateId",
    "layout_for_count",
    "panel_count",
    "panel_rects",
    "template_id",
]

TemplateId = Literal[
    "single",
    "two-horizontal",
    "two-vertical",
    "three-rows",
    "grid-2x2",
    "big-left",
    "big-right",
    "big-top",
    "big-bottom",
    "strip-3",
    "manga-3",
    "action",
]
TEMPLATE_IDS: tuple[str, ...] = get_args(TemplateId)

Cell = tuple[float, float, float, float]


@dataclass(frozen=True)
class Template:
    """A page layout template.

    Attributes:
        id: the template id used in plans.
        description: one line for pickers and prompts.
        cells: panel rectangles ``(x0, y0, x1, y1)`` in live-area fractions, in reading order.
        rtl: the template is read right to left by design (panel 1 on the right).
    """

    id: str
    description: str
    cells: tuple[Cell, ...]
    rtl: bool = False

    @property
    def panel_count(self) -> int:
        """How many panels a page with this layout holds."""
        return len(self.cells)


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template("single", "one full-page panel (splash)", ((0, 0, 1, 1),)),
        Template("two-horizontal", "two wide panels stacked top and bottom", ((0, 0, 1, 0.5), (0, 0.5, 1, 1))),
        Template("two-vertical", "two tall panels side by side", ((0, 0, 0.5, 1), (0.5, 0, 1, 1))),
        Template(
            "three-rows",
            "three wide panels stacked in rows",
            ((0, 0, 1, 1 / 3), (0, 1 / 3, 1, 2 / 3), (0, 2 / 3, 1, 1)),
        ),
        Template(
            "grid-2x2",
            "four equal panels in a 2x2 grid",
            ((0, 0, 0.5, 0.5), (0.5, 0, 1, 0.5), (0, 0.5, 0.5, 1), (0.5, 0.5, 1, 1)),
        ),
        Template(
            "big-left",
            "a large panel on the left, two small ones stacked on the right",
            ((0, 0, 0.6, 1), (0.6, 0, 1, 0.5), (0.6, 0.5, 1, 1)),
        ),
        Template(
            "big-right",
            "two small panels stacked on the left, a large one on the right",
            ((0, 0, 0.4, 0.5), (0, 0.5, 0.4, 1), (0.4, 0, 1, 1)),
        ),
        Template(
            "big-top",
            "a large panel on top, two small ones below",
            ((0, 0, 1, 0.6), (0, 0.6, 0.5, 1), (0.5, 0.6, 1, 1)),
        ),
        Template(
            "big-bottom",
            "two small panels on top, a large one below",
            ((0, 0, 0.5, 0.4), (0.5, 0, 1, 0.4), (0, 0.4, 1, 1)),
        ),
        Template(
            "strip-3", "three tall columns side by side", ((0, 0, 1 / 3, 1), (1 / 3, 0, 2 / 3, 1), (2 / 3, 0, 1, 1))
        ),
        Template(
            "manga-3",
            "manga page read right to left: tall panel top right, panel top left, wide panel below",
            ((0.45, 0, 1, 0.58), (0, 0, 0.45, 0.58), (0, 0.58, 1, 1)),
            rtl=True,
        ),
        Template(
            "action",
            "five panels for action: two on top, a wide middle, two below",
            ((0, 0, 0.62, 0.32), (0.62, 0, 1, 0.32), (0, 0.32, 1, 0.66), (0, 0.66, 0.38, 1), (0.38, 0.66, 1, 1)),
        ),
    )
}
assert tuple(TEMPLATES) == TEMPLATE_IDS


#: The layout a page switches to when it ends up with this many panels.
LAYOUT_FOR_COUNT: dict[int, TemplateId] = {1: "single", 2: "two-horizontal", 3: "big-top", 4: "grid-2x2", 5: "action"}


def template_id(layout: str) -> TemplateId:
    """``layout`` checked to be a known template id.

    Raises:
        KeyError: ``layout`` is not a known template id.
    """
    if layout not in TEMPLATES:
        raise KeyError(f"unknown layout {layout!r}; known: {', '.join(TEMPLATE_IDS)}")
    return cast(TemplateId, layout)


def layout_for_count(count: int, allowed: Sequence[str] | None = None) -> TemplateId | None:
    """A layout with exactly ``count`` panels, or ``None`` when none of ``allowed`` has that many.

    Args:
        count: the number of panels.
        allowed: the layouts to choose from, in preference order (default: every template).
            :data:`LAYOUT_FOR_COUNT` is taken first when it is allowed.
    """
    allowed = tuple(allowed) if allowed is not None else TEMPLATE_IDS
    preferred = LAYOUT_FOR_COUNT.get(count)
    if preferred in allowed:
        return preferred
    return next((template_id(t) for t in allowed if TEMPLATES[t].panel_count == count), None)


def panel_count(layout: str) -> int:
    """Number of panels of ``layout``.

    Raises:
        KeyError: ``layout`` is not a known template id.
    """
    return TEMPLATES[layout].panel_count


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle: left/top inclusive, right/bottom exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.y1 - self.y0

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` as Pillow expects."""
        return (self.x0, self.y0, self.x1, self.y1)


def panel_rects(
    layout: str,
    page_width: int,
    page_height: int,
    *,
    margin: int = 75,
    gutter: int = 38,
    rtl: bool = False,
) -> list[Rect]:
    """Pixel rectangles of a page's panels in reading order (position 1 first).

    Args:
        layout: a template id from :data:`TEMPLATE_IDS`.
        page_width: page width in pixels.
        page_height: page height in pixels.
        margin: blank border around the live area, pixels.
        gutter: space between neighbouring panels, pixels.
        rtl: the page reads right to left; left-to-right templates are mirrored.
            Templates that are right to left by design are never mirrored.

    Returns:
        One :class:`Rect` per panel, position 1 first.

    Raises:
        KeyError: ``layout`` is unknown.
        ValueError: margins and gutters leave no room for the panels.
    """
    template = TEMPLATES[layout]
    live_w = page_width - 2 * margin
    live_h = page_height - 2 * margin
    if live_w <= 0 or live_h <= 0:
        raise ValueError(f"margin {margin}px leaves no live area on a {page_width}x{page_height}px page")
    mirror = rtl and not template.rtl
    half = gutter / 2

    def edge(f: float, size: int, low: bool) -> int:
        pos = margin + f * size
        if 0 < f < 1:
            pos += half if low else -half
        return round(pos)

    rects = []
    for x0, y0, x1, y1 in template.cells:
        if mirror:
            x0, x1 = 1 - x1, 1 - x0
        r = Rect(edge(x0, live_w, True), edge(y0, live_h, True), edge(x1, live_w, False), edge(y1, live_h, False))
        if r.width <= 0 or r.height <= 0:
            raise ValueError(f"gutter {gutter}px leaves no room for layout {layout!r} on this page")
        rects.append(r)
    return rects
