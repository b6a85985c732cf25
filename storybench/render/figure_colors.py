"""The colours a storyboard rough gives a character: read from their description.

A rough cannot draw a face, but it can keep a character's main colours, so a glance
at a page (and the weight-free consistency scorer, :mod:`storybench.scoring.palette`)
tells the figures apart. The body takes the first colour word of the clothing (else
of the appearance), the head the first colour word of the appearance (else a light
tint of the body). A description without colour words gets a colour derived from the
character id (stable across runs: SHA-256, not Python's salted ``hash``).
"""

from __future__ import annotations

import colorsys
import hashlib
import re

__all__ = ["COLOR_WORDS", "figure_colors"]

RGB = tuple[int, int, int]

#: Colour words (lower case) and the RGB a rough draws them with.
COLOR_WORDS: dict[str, RGB] = {
    "red": (196, 40, 40),
    "crimson": (160, 20, 50),
    "scarlet": (220, 36, 30),
    "orange": (235, 130, 30),
    "yellow": (238, 200, 40),
    "gold": (212, 170, 50),
    "golden": (212, 170, 50),
    "blond": (230, 200, 120),
    "blonde": (230, 200, 120),
    "brass": (181, 150, 70),
    "green": (50, 140, 60),
    "teal": (30, 130, 130),
    "cyan": (40, 190, 210),
    "blue": (40, 80, 200),
    "navy": (25, 35, 90),
    "purple": (120, 50, 150),
    "violet": (140, 80, 200),
    "pink": (235, 130, 170),
    "magenta": (200, 40, 160),
    "brown": (110, 70, 40),
    "tan": (200, 160, 110),
    "beige": (220, 205, 170),
    "white": (240, 240, 236),
    "silver": (190, 192, 200),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "black": (22, 22, 22),
}
_WORD = re.compile(r"[a-z]+")


def _first_color(text: str) -> RGB | None:
    for word in _WORD.findall(text.lower()):
        if word in COLOR_WORDS:
            return COLOR_WORDS[word]
    return None


def _id_color(character_id: str) -> RGB:
    digest = hashlib.sha256(character_id.encode("utf-8")).digest()
    hue = digest[0] / 255
    light = 0.35 + 0.3 * digest[1] / 255
    red, green, blue = colorsys.hls_to_rgb(hue, light, 0.65)
    return round(red * 255), round(green * 255), round(blue * 255)


def figure_colors(character_id: str, appearance: str, clothing: str) -> tuple[RGB, RGB]:
    """The ``(body, head)`` fill colours (RGB 0..255) of a character's storyboard figure.

    Args:
        character_id: the character id (the fallback colour's seed).
        appearance: the free-text appearance ("curly red hair, freckles").
        clothing: the free-text clothing ("yellow raincoat").
    """
    body = _first_color(clothing) or _first_color(appearance) or _id_color(character_id)
    head = _first_color(appearance)
    if head is None:
        head = (
            round(body[0] + (255 - body[0]) * 0.45),
            round(body[1] + (255 - body[1]) * 0.45),
            round(body[2] + (255 - body[2]) * 0.45),
        )
    return body, head
