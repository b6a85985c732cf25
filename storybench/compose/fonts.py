"""Deprecated: moved to :mod:`storybench.fonts` (a base-layer package below render and compose). Removed in 0.3.

``storybench.compose`` itself still re-exports ``covers``, ``get_font`` and ``missing_chars``.
"""

import sys

from storybench.deprecation import moved_module

sys.modules[__name__] = moved_module(__name__, "storybench.fonts", removed_in="0.3")
