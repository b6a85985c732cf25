"""Consistency scoring: does a character in a panel look like their sheet?

See :mod:`storybench.scoring.base` (the plugin interface and registry),
:mod:`storybench.scoring.palette` (weight-free, a weak signal) and
:mod:`storybench.scoring.embedding` (an image-embedding model on onnxruntime).
"""

from storybench.scoring.base import (
    ENTRY_POINT_GROUP,
    SCORERS,
    Scorer,
    character_region,
    get_scorer,
    load_image,
    panel_score,
    score_cast,
    scorer_names,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "SCORERS",
    "Scorer",
    "character_region",
    "get_scorer",
    "load_image",
    "panel_score",
    "score_cast",
    "scorer_names",
]
