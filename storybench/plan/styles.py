"""Art styles as data.

A style gives the image backends a prompt prefix and a negative prompt, the letterer
a font and colours, and the storyboard renderer a palette. Add a style by adding a
:class:`Style` to :data:`STYLES`; plans name styles by id.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["STYLES", "STYLE_IDS", "Palette", "Style", "get_style"]


class Palette(BaseModel):
    """Colours of the storyboard renderer and the letterer, as ``#rrggbb`` strings.

    Attributes:
        paper: page background and gutters.
        ink: panel borders, outlines, lettering.
        background: the panel background's base tone (moods tint it).
        figure: fill of character placeholders.
        accent: SFX fill and highlights.
    """

    model_config = ConfigDict(frozen=True)

    paper: str
    ink: str
    background: str
    figure: str
    accent: str


class Style(BaseModel):
    """An art style.

    Attributes:
        id: the id plans use, e.g. ``"noir"``.
        name: a display name.
        prompt_prefix: put first in every panel's positive prompt.
        negative_prompt: what image models should avoid.
        font: lettering font family (see ``storybench.fonts``).
        sfx_font: font family for sound effects.
        palette: colours for the storyboard and lettering.
        reading_direction: ``"ltr"`` or ``"rtl"`` (manga reads right to left).
        monochrome: the storyboard draws it in greys only.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    prompt_prefix: str
    negative_prompt: str
    font: str = "Roboto-Medium"
    sfx_font: str = "Roboto-Black"
    palette: Palette
    reading_direction: str = "ltr"
    monochrome: bool = False


_COMMON_NEGATIVE = "blurry, low quality, deformed hands, extra fingers, watermark, signature, text, speech bubbles"

STYLES: dict[str, Style] = {
    s.id: s
    for s in (
        Style(
            id="noir",
            name="Noir",
            prompt_prefix="film noir comic art, high-contrast black and white ink, deep shadows, venetian-blind "
            "light, 1940s",
            negative_prompt=f"{_COMMON_NEGATIVE}, bright colors, cheerful, cartoonish",
            palette=Palette(paper="#f4f1ea", ink="#0d0d0d", background="#3a3a3a", figure="#1c1c1c", accent="#d8d8d8"),
            monochrome=True,
        ),
        Style(
            id="manga",
            name="Manga",
            prompt_prefix="manga panel, black and white, screentone shading, expressive eyes, dynamic speed lines",
            negative_prompt=f"{_COMMON_NEGATIVE}, western comic style, full color, photorealistic",
            palette=Palette(paper="#ffffff", ink="#111111", background="#b9b9b9", figure="#2b2b2b", accent="#ffffff"),
            reading_direction="rtl",
            monochrome=True,
        ),
        Style(
            id="american-classic",
            name="American classic",
            prompt_prefix="classic american comic book art, bold ink outlines, ben-day dots, vivid four-color print",
            negative_prompt=f"{_COMMON_NEGATIVE}, photorealistic, muted colors, anime",
            palette=Palette(paper="#fffaf0", ink="#111111", background="#4a7fc1", figure="#c8372d", accent="#ffd23f"),
        ),
        Style(
            id="watercolor",
            name="Watercolor",
            prompt_prefix="watercolor storybook illustration, soft washes, visible paper texture, gentle light",
            negative_prompt=f"{_COMMON_NEGATIVE}, harsh lines, neon, photorealistic",
            palette=Palette(paper="#fbf8f1", ink="#3b3630", background="#9cc3c9", figure="#c07a5a", accent="#e8b04a"),
        ),
        Style(
            id="ligne-claire",
            name="Ligne claire",
            prompt_prefix="ligne claire bande dessinee, clean uniform lines, flat colors, no hatching, detailed "
            "backgrounds",
            negative_prompt=f"{_COMMON_NEGATIVE}, heavy shadows, gradients, sketchy lines",
            palette=Palette(paper="#fdfcf7", ink="#1a1a1a", background="#8fb8de", figure="#e4572e", accent="#f3c623"),
        ),
        Style(
            id="cyberpunk",
            name="Cyberpunk",
            prompt_prefix="cyberpunk graphic novel art, neon-lit rain, magenta and cyan glow, dense futuristic city",
            negative_prompt=f"{_COMMON_NEGATIVE}, daylight, pastoral, medieval",
            palette=Palette(paper="#0f0f17", ink="#f2f2f2", background="#2a1b4d", figure="#ff2e88", accent="#27e1ff"),
        ),
    )
}
STYLE_IDS: tuple[str, ...] = tuple(STYLES)


def get_style(style_id: str) -> Style:
    """The :class:`Style` named ``style_id``.

    Raises:
        KeyError: unknown style; the message lists the known ones.
    """
    try:
        return STYLES[style_id]
    except KeyError:
        raise KeyError(f"unknown style {style_id!r}; known: {', '.join(STYLE_IDS)}") from None
