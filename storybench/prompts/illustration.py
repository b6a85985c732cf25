"""Deprecated: the illustration prompts of story segments live in :mod:`storybench.story.illustration`.

They clean a segment's text with the story's choice parser and repetition check, so
they belong to the story feature; ``prompts`` sits below ``story`` and does not import
it. The old names still resolve here for one release, each with a
:class:`DeprecationWarning` naming the new module (looked up when used, so importing
this module pulls in nothing from the story feature).
"""

# ruff: noqa: F822  # the names of __all__ resolve through the module __getattr__ below (a deprecation shim)
from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__ = [
    "FALLBACK_PROMPTS",
    "MAX_WORDS",
    "IllustrationPrompter",
    "check_answer",
    "clean_for_illustration",
    "fallback_prompt",
    "illustration_messages",
    "illustration_render_spec",
    "illustration_seed",
    "postprocess_answer",
    "truncate_words",
]

_NEW_HOME = "storybench.story.illustration"


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"storybench.prompts.illustration.{name} is deprecated and goes away in the next release: "
        f"import it from {_NEW_HOME}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(_NEW_HOME), name)
