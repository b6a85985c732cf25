"""The weight-free consistency scorer: colour palette and edge structure.

**A weak signal, honestly.** It compares which colours a character's region holds
with those of their sheet, and how its edges run, nothing more: it cannot tell two
characters dressed alike apart, it is fooled by lighting and mood tints, and a wrong
crop (staging is a guess on images from real models) dilutes it. Use it to rank
candidates of one panel against each other and to flag outliers, not as a verdict.
It needs no model, runs offline, and takes a few milliseconds per character on a
CPU; on storyboard roughs, whose figures are coloured from the character's
description, it tells the characters apart reliably.

Method: both images are shrunk (longest side :data:`SIDE` pixels). Background colours
are those dominating an inset ring along each image's border; their bins are dropped
from both histograms. The palette similarity is the histogram intersection of the
remaining colours (``BINS`` levels per RGB channel); the structure similarity is the
cosine of magnitude-weighted gradient-orientation histograms (8 bins, as in HOG,
Dalal & Triggs 2005). Score: ``0.75 * palette + 0.25 * structure``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from storybench.scoring.base import Scorer

__all__ = ["BINS", "SIDE", "PaletteScorer"]

#: Levels per RGB channel of the colour histogram.
BINS = 6
#: Longest side, pixels, images are shrunk to before scoring.
SIDE = 128
_PALETTE_WEIGHT = 0.75
_BACKGROUND_SHARE = 0.08  # a bin holding this share of the border ring is background


def _shrink(img: Image.Image) -> NDArray[np.uint8]:
    scale = SIDE / max(img.size)
    if scale < 1:
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BILINEAR
        )
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _bins(pixels: NDArray[np.uint8]) -> NDArray[np.int64]:
    q = pixels.astype(np.int64) * BINS // 256
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


def _border_bins(arr: NDArray[np.uint8]) -> set[int]:
    h, w = arr.shape[:2]
    inset = max(1, round(0.04 * min(h, w)))
    ring = np.concatenate(
        [
            arr[inset, inset : w - inset],
            arr[h - 1 - inset, inset : w - inset],
            arr[inset : h - inset, inset],
            arr[inset : h - inset, w - 1 - inset],
        ]
    )
    counts = np.bincount(_bins(ring).ravel(), minlength=BINS**3)
    return {int(b) for b in np.flatnonzero(counts >= _BACKGROUND_SHARE * counts.sum())}


def _histogram(arr: NDArray[np.uint8], drop: set[int]) -> NDArray[np.float64]:
    counts = np.bincount(_bins(arr).ravel(), minlength=BINS**3).astype(np.float64)
    if drop:
        counts[list(drop)] = 0
    total = counts.sum()
    return counts / total if total else counts


def _orientations(arr: NDArray[np.uint8]) -> NDArray[np.float64]:
    grey = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned orientation, 0..pi
    index = np.minimum((angle / np.pi * 8).astype(np.int64), 7)
    hist: NDArray[np.float64] = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=8).astype(np.float64)
    norm = float(np.linalg.norm(hist))
    return hist / norm if norm else hist


class PaletteScorer(Scorer):
    """Colour-palette and edge-structure similarity (see the module doc: a weak signal).

    Thread-safe and stateless.
    """

    name: ClassVar[str] = "palette"

    def score(self, region: Image.Image, sheet: Image.Image) -> float:
        """Similarity of ``region`` and ``sheet`` in ``0..1`` (see the module doc)."""
        a, b = _shrink(region), _shrink(sheet)
        drop = _border_bins(b) | _background_of_region(a)
        palette = float(np.minimum(_histogram(a, drop), _histogram(b, drop)).sum())
        structure = float(np.dot(_orientations(a), _orientations(b)))
        return max(0.0, min(1.0, _PALETTE_WEIGHT * palette + (1 - _PALETTE_WEIGHT) * structure))


def _background_of_region(arr: NDArray[np.uint8]) -> set[int]:
    """Background bins of a panel region: the colours of its left and right edge columns
    (a staged figure sits in the middle of its box; its sides show the scene)."""
    edges = np.concatenate([arr[:, 0], arr[:, -1]])
    counts = np.bincount(_bins(edges).ravel(), minlength=BINS**3)
    return {int(x) for x in np.flatnonzero(counts >= 0.15 * counts.sum())}
