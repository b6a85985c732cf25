"""Consistency scorers: how much a character in a panel looks like their character sheet.

A :class:`Scorer` compares two images, the character's region of a panel and the
character's sheet, and returns a similarity in ``0..1`` (1: the same look). Scorers are
plugins: the built-in ones and those third-party packages register in the
``storybench.scorers`` entry-point group (``name = "package.module:Class"``), created by
name through :data:`SCORERS` (a :class:`storybench.registry.Registry`, like the image
backends'). :func:`score_cast` finds each character's region where the staging
heuristic (:mod:`storybench.plan.staging`) puts them and scores it.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from PIL import Image

from storybench.registry import Extra, Registry
from storybench.render.spec import RenderSpec
from storybench.render.staging import stage_figures

__all__ = [
    "ENTRY_POINT_GROUP",
    "PAD",
    "SCORERS",
    "Scorer",
    "character_region",
    "get_scorer",
    "load_image",
    "panel_score",
    "score_cast",
    "scorer_names",
]

#: Share of a figure's box width added on each side of its region.
PAD = 0.1
#: The entry-point group scorer plugins register in.
ENTRY_POINT_GROUP = "storybench.scorers"


class Scorer(ABC):
    """Compares a character's region of a panel with their character sheet.

    Subclasses set :attr:`name` and implement :meth:`score`; they must be safe to call
    from several threads (the batch engine scores candidates as they arrive).
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def score(self, region: Image.Image, sheet: Image.Image) -> float:
        """Similarity of ``region`` (the character's part of a panel, RGB) and ``sheet``
        (their character sheet, RGB), in ``0..1``; 1 means the same look."""


_BUILTIN = {
    "palette": "storybench.scoring.palette:PaletteScorer",
    "embedding": "storybench.scoring.embedding:EmbeddingScorer",
}
SCORERS: Registry[Scorer] = Registry(
    "scorer", ENTRY_POINT_GROUP, _BUILTIN, {"embedding": Extra("scoring", (("onnxruntime", "onnxruntime"),))}
)


def scorer_names() -> list[str]:
    """Names of every registered scorer, sorted."""
    return SCORERS.names()


def get_scorer(name: str = "palette", **options: Any) -> Scorer:
    """Create the scorer registered as ``name`` with ``options``.

    Raises:
        UnknownBackendError: no such scorer; the message lists the known names.
        MissingDependencyError: the scorer's extra (``storybench[scoring]``) is not installed.
    """
    return SCORERS.create(name, **options)


def load_image(data: bytes | Image.Image) -> Image.Image:
    """An RGB image from PNG/JPEG bytes or a PIL image.

    Raises:
        PIL.UnidentifiedImageError: the bytes are not an image.
    """
    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    img.load()  # decoded now: a lazily decoded image is not safe to share between threads
    return img.convert("RGB") if img.mode != "RGB" else img


def character_region(panel: Image.Image, spec: RenderSpec, character_id: str) -> Image.Image | None:
    """The part of ``panel`` where staging puts ``character_id``: their head and body
    boxes, widened by :data:`PAD` of the box width on each side so the region's side
    columns show the scene around them; None when the shot leaves them out (close-ups
    keep one character)."""
    width, height = panel.size
    for fig in stage_figures(spec):
        if fig.id != character_id:
            continue
        left, right = min(fig.body[0], fig.head[0]), max(fig.body[2], fig.head[2])
        pad = PAD * (right - left)
        x0 = max(0.0, left - pad)
        y0 = max(0.0, min(fig.body[1], fig.head[1]))
        x1 = min(1.0, right + pad)
        y1 = min(1.0, max(fig.body[3], fig.head[3]))
        box = (round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height))
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            return None
        return panel.crop(box)
    return None


def score_cast(
    scorer: Scorer, panel: bytes | Image.Image, spec: RenderSpec, sheets: Mapping[str, bytes | Image.Image]
) -> dict[str, float]:
    """Score every staged character of ``spec`` that has a sheet.

    Args:
        scorer: the scorer.
        panel: the rendered panel (image bytes or PIL image).
        spec: the panel's render spec (its cast, camera and size place the characters).
        sheets: character id to their sheet (bytes or PIL image).

    Returns:
        Character id to score (``0..1``, rounded to 4 places), in cast order; characters
        without a sheet or out of the shot are left out.
    """
    image = load_image(panel)
    scores: dict[str, float] = {}
    for member in spec.cast:
        if member.id not in sheets:
            continue
        region = character_region(image, spec, member.id)
        if region is None:
            continue
        scores[member.id] = round(float(scorer.score(region, load_image(sheets[member.id]))), 4)
    return scores


def panel_score(scores: Mapping[str, float]) -> float | None:
    """One consistency value for a panel: its worst-scored character (None: nothing scored).

    The minimum, not the mean: a panel is only as consistent as its least recognisable character.
    """
    return min(scores.values()) if scores else None
