"""Runware's size and model-id rules.

Runware wants width and height as multiples of 64 within 128..2048 pixels, and models
named by AIR ids (``<source>:<model id>@<version id>``; Runware's "AIR" identifiers).
"""

from __future__ import annotations

import re

from storybench.exceptions import ConfigError

__all__ = ["MAX_SIDE", "MIN_SIDE", "STEP", "runware_size", "validate_air"]

MIN_SIDE = 128
MAX_SIDE = 2048
STEP = 64
_AIR = re.compile(r"^[a-z][a-z0-9_-]*:[0-9]+@[0-9]+$", re.IGNORECASE)


def validate_air(model: str, *, where: str = "model") -> str:
    """Check a Runware model identifier (AIR): ``<source>:<model id>@<version id>``,
    e.g. ``civitai:101055@128078``, ``runware:101@1``. Returns it stripped.

    Raises:
        ConfigError: not of that form (the message names ``where`` and the value).
    """
    text = str(model).strip()
    if not _AIR.match(text):
        raise ConfigError(
            f"{where}: {model!r} is not a Runware model AIR id; expected "
            "'<source>:<model id>@<version id>', e.g. 'civitai:101055@128078' or 'runware:101@1'"
        )
    return text


def _round64(value: float) -> int:
    return int(min(MAX_SIDE, max(MIN_SIDE, round(value / STEP) * STEP)))


def runware_size(width: int, height: int) -> tuple[int, int]:
    """The size Runware will render for a requested ``width`` × ``height`` (pixels):
    scaled so the longer side is at most 2048 and the shorter at least 128 (aspect
    kept as far as both limits allow), then each side rounded to the nearest multiple of 64.

    >>> runware_size(1000, 700)
    (1024, 704)
    """
    scale = 1.0
    if max(width, height) > MAX_SIDE:
        scale = MAX_SIDE / max(width, height)
    if min(width, height) * scale < MIN_SIDE:
        scale = MIN_SIDE / min(width, height)
    return _round64(width * scale), _round64(height * scale)
