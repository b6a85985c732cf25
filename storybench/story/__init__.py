"""Branching stories: the story graph, the engine that writes and illustrates it, exports.

Widgets live in :mod:`storybench.story.explorer` (not imported here: the engine needs no
ipywidgets).
"""

from storybench.story.choices import ChoiceExtraction, ChoiceList, default_choices, extract_choices
from storybench.story.engine import StoryEngine
from storybench.story.export import export_story, to_html, to_markdown, to_twee
from storybench.story.model import (
    GenerationSettings,
    Segment,
    Story,
    StoryFormatError,
    StorySettings,
    load_story,
)

__all__ = [
    "ChoiceExtraction",
    "ChoiceList",
    "GenerationSettings",
    "Segment",
    "Story",
    "StoryEngine",
    "StoryFormatError",
    "StorySettings",
    "default_choices",
    "export_story",
    "extract_choices",
    "load_story",
    "to_html",
    "to_markdown",
    "to_twee",
]
