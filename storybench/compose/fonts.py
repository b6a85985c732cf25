"""Deprecated: the fonts moved to :mod:`storybench.fonts` (a base-layer package below render and compose).

``storybench.compose.fonts`` keeps its names for one release and warns on import;
import them from ``storybench.fonts`` (or ``storybench.compose``, which re-exports
``covers``, ``get_font`` and ``missing_chars``).
"""

from __future__ import annotations

import warnings

from storybench.fonts import DEFAULT_FAMILY, Font, covers, font_path, get_font, missing_chars

__all__ = ["DEFAULT_FAMILY", "Font", "covers", "font_path", "get_font", "missing_chars"]

warnings.warn(
    "storybench.compose.fonts is deprecated and goes away in the next release: import from storybench.fonts",
    DeprecationWarning,
    stacklevel=2,
)
