"""Branching stories: the story graph, the engine that writes and illustrates it, exports.

Modules, lowest first:

* ``context_record`` (what the model received for a segment, as saved), ``model`` (the story
  graph and its JSON, with its world and each segment's summary and context), ``folders`` (a
  story's folder, save conflicts), ``library`` (the saved stories under a root), ``choices``
  (choice extraction: a chain of recognisers), ``repetition`` (the loop guard), ``messages`` (the chat messages of a
  segment; ``prompts`` is its deprecated name), ``titles`` (LLM-written titles),
  ``illustration`` (illustration prompts and render specs);
* ``llm_gate`` (one story's LLM: the reader's requests before background work),
  ``writer`` (a segment streamed into a typed ``Draft``: lock, loop guard, Stop, Interrupt),
  ``session`` (graph changes, autosave, save conflicts), ``drafts`` (a draft becomes a
  segment), ``memory`` (each segment's context over its own ancestors with the world, the
  summaries and the author's note; rolling summaries written in the background), ``sheets``
  (world characters' sheets as references), ``illustrator`` (illustrations in its own render
  thread), ``streams`` (the generator API of earlier releases), ``options`` (``EngineOptions``);
* ``engine`` (``StoryEngine``: the thin front over the above), ``prefetch`` (writing the
  choices' continuations ahead), ``demo``; the exports ``export``, ``twee``, ``epub``;
* ``explorer`` (the notebook app: model and section widgets, the World section and the
  Context view; not imported here, the engine needs no ipywidgets).
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
