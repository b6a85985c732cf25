"""Deprecated: renamed :mod:`storybench.planner.messages` (it builds chat messages). Removed in 0.3."""

import sys

from storybench.deprecation import moved_module

sys.modules[__name__] = moved_module(__name__, "storybench.planner.messages", removed_in="0.3")
