"""Where to cut a tall webtoon strip: rows chosen so no piece is too tall or too thin.

A strip ``height`` rows high is cut into pieces at most ``max_height`` rows high (the
1,280-px slices platforms take; the 32,767-px files image decoders and canvases take).
Every cut is chosen in the window that keeps both the piece above it and everything
below it at least ``min_height`` rows (default :data:`MIN_PIECE_RATIO` of
``max_height``), so no thin sliver is left, preferring, lowest in the window first:

1. a row in a gutter (no panel is cut);
2. a row inside a panel but outside its lettering (no balloon, caption or SFX is cut);
3. the bottom of the window.

Rows are pixel rows from the top of the strip; a cut at row ``c`` ends a piece before
row ``c``. Intervals ``(start, end)`` are half-open.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MIN_PIECE_RATIO", "cut_rows"]

#: The thinnest piece (except a strip shorter than it), as a share of the tallest.
MIN_PIECE_RATIO = 0.25

Rows = tuple[int, int]


def _free_row(lo: int, hi: int, intervals: Sequence[Rows]) -> int | None:
    """The lowest row in ``[lo, hi]`` inside none of ``intervals``, ``None`` when there is none."""
    c = hi
    while c >= lo:
        inside = next((a for a in intervals if a[0] < c < a[1]), None)
        if inside is None:
            return c
        c = inside[0]  # the interval's first row: a cut there ends the piece above it
    return None


def cut_rows(
    height: int,
    max_height: int,
    *,
    panels: Sequence[Rows] = (),
    avoid: Sequence[Rows] = (),
    min_height: int | None = None,
) -> list[int]:
    """The rows to cut a ``height``-row strip at (ascending; empty when it fits in one piece).

    Args:
        height: the strip's height, pixels.
        max_height: the tallest piece, pixels.
        panels: the panels' rows ``(top, bottom)``; rows outside every panel are gutters.
        avoid: rows not to cut through when a panel must be cut (its lettering).
        min_height: the thinnest piece, pixels (default ``MIN_PIECE_RATIO * max_height``,
            at most half of ``max_height``).

    Raises:
        ValueError: ``max_height`` below 1.
    """
    if max_height < 1:
        raise ValueError(f"max_height: {max_height} is below 1")
    floor = round(max_height * MIN_PIECE_RATIO) if min_height is None else min_height
    floor = max(1, min(floor, max_height // 2))
    cuts: list[int] = []
    top = 0
    while height - top > max_height:
        lo, hi = top + floor, min(top + max_height, height - floor)
        cut = _free_row(lo, hi, panels)
        if cut is None:
            cut = _free_row(lo, hi, avoid)
        cuts.append(hi if cut is None else cut)
        top = cuts[-1]
    return cuts
