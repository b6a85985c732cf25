"""Deprecated: renamed :mod:`storybench.ui_kit` (this package held no widgets). Removed in 0.3."""

import sys

from storybench.deprecation import moved_module

sys.modules[__name__] = moved_module(__name__, "storybench.ui_kit", removed_in="0.3")
