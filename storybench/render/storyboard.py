"""The storyboard backend: an honest, fast, offline rough of each panel, drawn with Pillow.

It needs no model and no server, so it is the default backend and the dummy component
that lets the whole pipeline (render → lettering → pages → PDF/CBZ) run in CI. A panel
rough shows: the frame; a background toned by the panel's mood over the style's palette
(greys for monochrome styles) with a little seeded texture; a horizon/ground line and
the location written into the scene; one labelled placeholder per character (head
circle, body shape, name; coloured from the character's clothing and appearance by
:func:`storybench.render.figure_colors.figure_colors`), placed by :func:`storybench.render.staging.stage_figures`;
and the shot (camera) written small in a corner.

Output is deterministic: the same spec always gives the same PNG bytes.
"""

from __future__ import annotations

import io
import random
import time
from typing import ClassVar

from PIL import Image, ImageDraw

from storybench.fonts import get_font
from storybench.plan.styles import STYLES, Style, get_style
from storybench.render.base import ImageBackend
from storybench.render.figure_colors import figure_colors
from storybench.render.spec import RenderResult, RenderSpec
from storybench.render.staging import horizon, shot_scale, stage_figures

__all__ = ["StoryboardBackend", "mood_tone", "render_storyboard"]

RGB = tuple[int, int, int]

# mood keyword -> (tint colour, tint strength 0..1, lightness shift -1..1)
_MOODS: tuple[tuple[tuple[str, ...], RGB, float, float], ...] = (
    (
        ("tense", "danger", "threat", "ominous", "menac", "fear", "scary", "dread", "suspense"),
        (150, 30, 30),
        0.35,
        -0.35,
    ),
    (("dark", "grim", "noir", "gloom", "sinister", "night"), (20, 20, 45), 0.35, -0.45),
    (("angry", "rage", "fury", "violent", "action", "fight", "urgent"), (210, 60, 20), 0.4, -0.1),
    (("sad", "melanchol", "grief", "lonely", "somber", "sombre", "despair"), (60, 80, 140), 0.4, -0.2),
    (("mysterious", "mystery", "eerie", "strange", "uncanny", "dream"), (90, 50, 140), 0.4, -0.2),
    (("happy", "joy", "cheer", "playful", "fun", "excit", "triumph", "hope"), (255, 210, 90), 0.4, 0.3),
    (("calm", "peace", "serene", "quiet", "gentle", "warm", "tender", "romantic"), (150, 200, 170), 0.3, 0.25),
)


def _hex(color: str) -> RGB:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    red, green, blue = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return red, green, blue


def _grey(c: RGB) -> RGB:
    v = round(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
    return (v, v, v)


def _luma(c: RGB) -> float:
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255


def mood_tone(style: Style, mood: str) -> RGB:
    """Background base colour of a panel: the style's background tinted by the mood.

    Monochrome styles give a grey. Unknown moods leave the style colour as is.
    """
    base = _hex(style.palette.background)
    text = mood.lower()
    for words, tint, strength, shift in _MOODS:
        if any(w in text for w in words):
            base = _mix(base, tint, strength)
            base = _mix(base, (255, 255, 255) if shift > 0 else (0, 0, 0), abs(shift) * 0.6)
            break
    return _grey(base) if style.monochrome else base


def _style(style_id: str) -> Style:
    return STYLES.get(style_id) or get_style("noir")


def _label(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, ink: RGB, paper: RGB, anchor: str
) -> None:
    font = get_font("Roboto-Medium", size)
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
    pad = max(2, size // 5)
    draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), fill=paper)
    draw.text(xy, text, font=font, fill=ink, anchor=anchor)


def _fit_line(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max(1, max_chars - 1)].rstrip() + "…"


def render_storyboard(spec: RenderSpec) -> Image.Image:
    """Draw the storyboard rough of ``spec`` (RGB, ``spec.width`` x ``spec.height`` pixels)."""
    W, H = spec.width, spec.height
    style = _style(spec.style)
    ink, paper, figure_fill = _inks(style)
    # storyboard lines must read on the background: dark line on light, light on dark
    bg = mood_tone(style, spec.mood)
    line = (20, 20, 20) if _luma(bg) > 0.45 else (235, 235, 235)
    rng = random.Random(spec.seed)
    unit = min(W, H)

    img = Image.new("RGB", (W, H), bg)
    draw = ImageDraw.Draw(img)
    hy = _draw_scene(draw, spec, rng, bg, line)
    small = max(10, round(unit * 0.032))
    if spec.location:
        _draw_location(draw, spec.location, hy, line, small, W, unit)
    _draw_figures(draw, spec, line, figure_fill, style.monochrome)

    # shot, small, bottom-right corner
    if spec.camera:
        shot = _fit_line(spec.camera.upper(), 40)
        _label(draw, (W - small, H - small), shot, small, ink=(15, 15, 15), paper=(250, 250, 250), anchor="rd")

    # frame
    draw.rectangle((0, 0, W - 1, H - 1), outline=ink if _luma(bg) > 0.3 else paper, width=max(2, unit // 160))
    return img


def _inks(style: Style) -> tuple[RGB, RGB, RGB]:
    """The style's ink, paper and figure colours (greys for a monochrome style)."""
    pal = style.palette
    ink, paper, figure_fill = _hex(pal.ink), _hex(pal.paper), _hex(pal.figure)
    if style.monochrome:
        return _grey(ink), _grey(paper), _grey(figure_fill)
    return ink, paper, figure_fill


def _draw_scene(draw: ImageDraw.ImageDraw, spec: RenderSpec, rng: random.Random, bg: RGB, line: RGB) -> int:
    """Sky and ground split at the camera's horizon, seeded texture, scenery blocks for wide
    shots and the horizon line; the horizon's y (pixels)."""
    W, H = spec.width, spec.height
    unit = min(W, H)
    hy = round(horizon(spec.camera) * H)
    ground = _mix(bg, (0, 0, 0), 0.18)
    sky = _mix(bg, (255, 255, 255), 0.12)
    draw.rectangle((0, 0, W, hy), fill=sky)
    draw.rectangle((0, hy, W, H), fill=ground)
    for _ in range(28):
        x = rng.uniform(0, W)
        y = rng.uniform(0, H)
        length = rng.uniform(0.04, 0.16) * unit
        shade = _mix(sky if y < hy else ground, line, rng.uniform(0.06, 0.14))
        draw.line((x, y, x + length, y + rng.uniform(-0.02, 0.02) * unit), fill=shade, width=max(1, unit // 300))
    if shot_scale(spec.camera) in ("full", "tiny"):
        _draw_scenery(draw, rng, hy, _mix(sky, line, 0.12), W, H)
    draw.line((0, hy, W, hy), fill=line, width=max(2, unit // 250))
    return hy


def _draw_scenery(draw: ImageDraw.ImageDraw, rng: random.Random, hy: int, fill: RGB, W: int, H: int) -> None:
    """Simple seeded scenery blocks standing on the horizon ``hy`` (pixels)."""
    x = 0.0
    while x < W:
        w = rng.uniform(0.08, 0.22) * W
        h = rng.uniform(0.05, 0.2) * H
        draw.rectangle((x, hy - h, x + w, hy), fill=fill)
        x += w + rng.uniform(0.02, 0.12) * W


def _draw_location(draw: ImageDraw.ImageDraw, location: str, hy: int, line: RGB, small: int, W: int, unit: int) -> None:
    """The location, written into the scene just above the ground line."""
    loc = _fit_line(location.upper(), max(8, int(W / (small * 0.62))))
    draw.text(
        (round(W * 0.03), hy - max(4, unit // 120)),
        loc,
        font=get_font("Roboto-Bold", small),
        fill=line,
        anchor="ld",
    )


def _draw_figures(draw: ImageDraw.ImageDraw, spec: RenderSpec, line: RGB, figure_fill: RGB, monochrome: bool) -> None:
    """One labelled placeholder per staged character: body, head and name."""
    W, H = spec.width, spec.height
    unit = min(W, H)
    lw = max(2, unit // 200)
    members = {m.id: m for m in spec.cast}
    label_size = max(10, round(unit * 0.035))
    for fig in stage_figures(spec):
        bx0, by0, bx1, by1 = fig.body[0] * W, fig.body[1] * H, fig.body[2] * W, fig.body[3] * H
        hx0, hy0, hx1, hy1 = fig.head[0] * W, fig.head[1] * H, fig.head[2] * W, fig.head[3] * H
        radius = max(2, round((bx1 - bx0) * 0.3))
        member = members[fig.id]
        body_fill, head_fill = _figure_fills(figure_fill, member.id, member.appearance, member.clothing, monochrome)
        draw.rounded_rectangle((bx0, by0, bx1, by1), radius=radius, fill=body_fill, outline=line, width=lw)
        draw.ellipse((hx0, hy0, hx1, hy1), fill=_mix(head_fill, (255, 255, 255), 0.35), outline=line, width=lw)
        cx = (hx0 + hx1) / 2
        ly = min(by0 + (by1 - by0) * 0.25 + label_size, H - label_size)
        if by1 - by0 < label_size * 2:  # tiny figures: name under the feet
            ly = min(by1 + label_size, H - label_size)
        _label(draw, (cx, ly), fig.name, label_size, ink=(15, 15, 15), paper=(250, 250, 250), anchor="mm")


def _figure_fills(
    figure_fill: RGB, member_id: str, appearance: str, clothing: str, monochrome: bool
) -> tuple[RGB, RGB]:
    """A figure's body and head colours: the style's figure colour toward the character's own."""
    body_rgb, head_rgb = figure_colors(member_id, appearance, clothing)
    body_fill, head_fill = _mix(figure_fill, body_rgb, 0.8), _mix(figure_fill, head_rgb, 0.6)
    if monochrome:
        return _grey(body_fill), _grey(head_fill)
    return body_fill, head_fill


class StoryboardBackend(ImageBackend):
    """Offline storyboard renderer (see module doc). Thread-safe; no resources to close."""

    name: ClassVar[str] = "storyboard"
    version: ClassVar[str] = "storyboard-2"
    default_concurrency = 2

    def __init__(self, compress_level: int = 1) -> None:
        """
        Args:
            compress_level: zlib level of the PNG (0-9); 1 is fast and small enough.
        """
        self.compress_level = compress_level

    def render(self, spec: RenderSpec) -> RenderResult:
        """Render ``spec`` to PNG bytes at ``spec.width`` x ``spec.height`` pixels.

        Metrics: ``execution_seconds`` (drawing and encoding time).
        """
        start = time.perf_counter()
        img = render_storyboard(spec)
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=self.compress_level)
        return RenderResult(
            image=buf.getvalue(),
            width=spec.width,
            height=spec.height,
            metrics={"execution_seconds": round(time.perf_counter() - start, 4)},
        )
