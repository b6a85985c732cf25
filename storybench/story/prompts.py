"""Deprecated name of :mod:`storybench.story.messages` (the chat messages of the story loop).

"Prompt" means a text prompt, a queued ComfyUI graph and LLM chat messages in this
field; this module builds chat messages, so it is named for them now. Importing it
still works for one release, with a :class:`DeprecationWarning` naming the new module.
"""

from __future__ import annotations

import warnings

from storybench.story.messages import *  # noqa: F403  # the old public names, unchanged
from storybench.story.messages import __all__ as __all__

warnings.warn(
    "storybench.story.prompts is deprecated and goes away in the next release: import from storybench.story.messages",
    DeprecationWarning,
    stacklevel=2,
)
