"""Geometry of lettering placement: boxes, tails, and free spots in a panel.

All coordinates are page pixels; a box is ``(x0, y0, x1, y1)`` with ``x1``/``y1``
exclusive. A balloon occupies its ellipse's bounding box *and* its tail's
bounding box (:func:`tail_polygon`); :func:`find_spot` looks for a position where
a new box (and its tail) covers none of the boxes already placed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from storybench.plan.layouts import Rect

__all__ = ["Box", "bbox", "find_spot", "overlaps", "tail_polygon"]

Box = tuple[int, int, int, int]
Point = tuple[float, float]

#: Angular half-width of a tail's base on the ellipse, radians.
TAIL_SPREAD = 0.22


def overlaps(a: Box, b: Box, gap: int = 0) -> bool:
    """Whether boxes ``a`` and ``b`` come closer than ``gap`` pixels (touching is not overlapping)."""
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def bbox(points: Sequence[Point]) -> Box:
    """The bounding box of points (rounded outward)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)) + 1, math.ceil(max(ys)) + 1)


def tail_polygon(box: Box, tip: tuple[int, int]) -> list[Point]:
    """The tail triangle of a balloon ``box`` toward ``tip``: two base points just inside the
    ellipse (so the fill covers the outline seam) and the tip."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    a, b = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    angle = math.atan2((tip[1] - cy) / max(b, 1), (tip[0] - cx) / max(a, 1))
    base = [
        (cx + 0.9 * a * math.cos(angle + d), cy + 0.9 * b * math.sin(angle + d)) for d in (-TAIL_SPREAD, TAIL_SPREAD)
    ]
    return [base[0], (float(tip[0]), float(tip[1])), base[1]]


def _positions(lo: float, hi: float, size: float, prefer: float | None, steps: int) -> list[float]:
    """Start coordinates of a ``size``-long box inside ``lo..hi``: the preferred one first, then evenly spaced."""
    last = hi - size
    if last < lo:
        return []
    out: list[float] = []
    if prefer is not None:
        out.append(min(max(prefer - size / 2, lo), last))
    n = max(1, steps)
    out += [lo + (last - lo) * i / n for i in range(n + 1)]
    return out


def find_spot(
    width: float,
    height: float,
    rect: Rect,
    pad: int,
    gap: int,
    blocked: Sequence[Box],
    *,
    prefer_x: float | None = None,
    prefer_bottom: bool = False,
    accept: Callable[[Box], Sequence[Box] | None] | None = None,
) -> tuple[Box, Sequence[Box]] | None:
    """The first position (top to bottom, or bottom to top; the preferred x first) where a
    ``width`` x ``height`` box fits inside ``rect`` less ``pad`` and keeps ``gap`` pixels from
    every blocked box.

    Args:
        width, height: the box size, pixels.
        rect: the panel rectangle.
        pad: margin kept inside the panel, pixels.
        gap: clearance from blocked boxes, pixels.
        blocked: boxes already placed (balloons, tails, captions, SFX).
        prefer_x: centre x to try first on each row (e.g. above the speaker).
        prefer_bottom: scan rows from the bottom up.
        accept: called with a free box; returns the extra boxes it brings (its tail)
            when they are clear too, else ``None`` to keep looking.

    Returns:
        ``(box, extra boxes)`` or ``None`` when no position is free.
    """
    xs = _positions(rect.x0 + pad, rect.x1 - pad, width, prefer_x, 8)
    ys = _positions(
        rect.y0 + pad, rect.y1 - pad, height, None, max(4, round((rect.height - 2 * pad) / max(gap, 4) / 3))
    )
    if prefer_bottom:
        ys.reverse()
    for y in ys:
        for x in xs:
            box = (round(x), round(y), round(x + width), round(y + height))
            if any(overlaps(box, b, gap) for b in blocked):
                continue
            extra: Sequence[Box] = ()
            if accept is not None:
                found = accept(box)
                if found is None:
                    continue
                extra = found
            return box, extra
    return None
