"""Staging: where the characters of a panel stand in the frame.

A pure, deterministic heuristic shared by the storyboard renderer (which draws the
figures there, through :func:`storybench.render.staging.stage_figures`) and the
letterer (which aims balloon tails at the speakers' heads, also on images from real
backends, where it is only a guess). It sits in the plan layer, below both.

Boxes are ``(x0, y0, x1, y1)`` in FRACTIONS of the panel (0..1, may reach slightly
past the frame where a body is cut by it). Figures are spread left to right in cast
order. Shot scale follows the camera:

* extreme close-up / close-up: one large head and shoulders (the first speaker, else
  the first cast member); the others are left out of the frame;
* medium / cowboy / over-the-shoulder / two-shot (and anything unknown): waist-up figures;
* full / wide / long: small full figures standing on the ground;
* extreme wide / establishing / bird's-eye / aerial: tiny full figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from storybench.plan.models import ComicPlan, PanelPlan

__all__ = ["Figure", "Member", "PanelMember", "ShotScale", "horizon", "panel_cast", "shot_scale", "stage_cast"]

ShotScale = Literal["close", "medium", "full", "tiny"]
Box = tuple[float, float, float, float]


class Member(Protocol):
    """A character to stage: what :func:`stage_cast` reads (``render.spec.CastMember`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def speaks(self) -> bool: ...


@dataclass(frozen=True)
class PanelMember:
    """A character of a plan's panel, as staging needs it.

    Attributes:
        id: the character id.
        name: the display name.
        speaks: the character has a line in the panel.
    """

    id: str
    name: str
    speaks: bool = False


def panel_cast(plan: ComicPlan, panel: PanelPlan) -> list[PanelMember]:
    """The panel's characters known to the plan, in the panel's order, with who speaks."""
    speakers = {d.character for d in panel.dialogue}
    known = {c.id: c for c in plan.characters}
    return [
        PanelMember(id=cid, name=known[cid].name, speaks=cid in speakers) for cid in panel.characters if cid in known
    ]


@dataclass(frozen=True)
class Figure:
    """One staged character.

    Attributes:
        id: the character id.
        name: the display name (label of the storyboard placeholder).
        body: body box in panel fractions ``(x0, y0, x1, y1)``.
        head: head box in panel fractions (a circle in pixels: square after scaling).
        speaks: the character has a line in this panel.
    """

    id: str
    name: str
    body: Box
    head: Box
    speaks: bool = False

    @property
    def head_center(self) -> tuple[float, float]:
        """Centre of the head, panel fractions."""
        return ((self.head[0] + self.head[2]) / 2, (self.head[1] + self.head[3]) / 2)


def shot_scale(camera: str) -> ShotScale:
    """The shot scale of a free-text camera description (see module doc)."""
    c = camera.lower().replace("_", " ").replace("-", " ")
    if "close" in c or c.strip() in ("cu", "ecu", "xcu"):
        if "medium close" in c:
            return "medium"
        return "close"
    if any(k in c for k in ("extreme wide", "extreme long", "establishing", "bird", "aerial", "overhead", "top down")):
        return "tiny"
    if any(k in c for k in ("wide", "long shot", "full", "low angle wide")):
        return "full"
    return "medium"


def horizon(camera: str) -> float:
    """Height of the horizon/ground line for a shot, fraction of the panel height from the top."""
    return {"close": 0.78, "medium": 0.66, "full": 0.6, "tiny": 0.45}[shot_scale(camera)]


def _slots(n: int, width: float) -> list[float]:
    """Centre x of ``n`` figures spread across ``width`` (pixel-like units)."""
    if n == 1:
        return [width / 2]
    left, right = 0.18 * width, 0.82 * width
    return [left + (right - left) * i / (n - 1) for i in range(n)]


def _boxes(scale: ShotScale, cx: float, W: float, spacing: float) -> tuple[Box, Box]:
    """Head and body boxes of a figure centred at ``cx``, in units of the panel height (``W`` wide)."""
    H = 1.0
    if scale == "close":
        d = min(0.48 * H, 0.62 * W)
        head_top = 0.14
        body_w = min(2.6 * d, 0.98 * W)
        return (cx - d / 2, head_top, cx + d / 2, head_top + d), (
            cx - body_w / 2,
            head_top + 0.86 * d,
            cx + body_w / 2,
            1.02,
        )
    if scale == "medium":
        d = min(0.24 * H, 0.55 * spacing, 0.3 * W)
        head_top = 0.24
        body_w = min(2.1 * d, 0.9 * spacing)
        return (cx - d / 2, head_top, cx + d / 2, head_top + d), (
            cx - body_w / 2,
            head_top + 0.9 * d,
            cx + body_w / 2,
            1.02,
        )
    fig_h = 0.55 * H if scale == "full" else 0.2 * H
    fig_h = min(fig_h, 2.6 * spacing)
    feet = 0.9 if scale == "full" else 0.72
    d = fig_h / 6.2
    top = feet - fig_h
    body_w = min(1.5 * d, 0.8 * spacing)
    return (cx - d / 2, top, cx + d / 2, top + d), (cx - body_w / 2, top + 0.95 * d, cx + body_w / 2, feet)


def stage_cast(cast: Sequence[Member], camera: str, aspect: float) -> list[Figure]:
    """Stage ``cast`` for a shot.

    Args:
        cast: the characters in plan order.
        camera: the panel's camera text (``"close-up"``, ``"wide shot"``...).
        aspect: panel width / height (> 0).

    Returns:
        One :class:`Figure` per drawn character, left to right; close-ups draw one.

    Raises:
        ValueError: ``aspect`` is not positive.
    """
    if aspect <= 0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    if not cast:
        return []
    W = aspect  # work in units of the panel height; convert x by / W at the end
    scale = shot_scale(camera)
    if scale == "close":
        focus = next((m for m in cast if m.speaks), cast[0])
        members: list[Member] = [focus]
    else:
        members = list(cast)
    n = len(members)
    xs = _slots(n, W)
    spacing = (xs[1] - xs[0]) if n > 1 else W

    figures = []
    for member, cx in zip(members, xs, strict=True):
        head, body = _boxes(scale, cx, W, spacing)
        figures.append(
            Figure(
                id=member.id,
                name=member.name,
                body=(body[0] / W, body[1], body[2] / W, body[3]),
                head=(head[0] / W, head[1], head[2] / W, head[3]),
                speaks=member.speaks,
            )
        )
    return figures
