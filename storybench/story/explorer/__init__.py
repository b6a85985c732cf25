"""The story explorer: a traitlets model (no widget imports) and its ipywidgets view.

``StoryExplorer`` is imported lazily so ``storybench.story.explorer.model`` stays usable
without ipywidgets.
"""

from __future__ import annotations

from typing import Any

from storybench.story.explorer.model import ExplorerModel

__all__ = ["ExplorerModel", "StoryExplorer"]


def __getattr__(name: str) -> Any:
    if name == "StoryExplorer":
        from storybench.story.explorer.view import StoryExplorer

        return StoryExplorer
    raise AttributeError(name)
