"""The options of a :class:`~storybench.story.engine.StoryEngine`, as one validated object.

Earlier releases took them as 15 keyword arguments; :func:`engine_options` turns those
keywords into an :class:`EngineOptions` so both spellings keep working.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storybench.exceptions import ConfigError
from storybench.llm.base import LLMBackend
from storybench.render.base import ImageBackend
from storybench.story.model import Segment
from storybench.story.writer import SamplingOptions

__all__ = ["DEFAULT_OUTPUT_ROOT", "EngineOptions", "SegmentCallback", "engine_options"]

DEFAULT_OUTPUT_ROOT = "outputs/stories"

SegmentCallback = Callable[[Segment], None]


@dataclass(frozen=True)
class EngineOptions:
    """How a :class:`StoryEngine` writes, illustrates and saves.

    Attributes:
        llm: an LLM backend or its registered name (created on first use).
        image_backend: an image backend, its registered name, or ``None`` for no images.
        output_root: folder holding story folders; the story's is
            ``output_root/<title slug>-<id start>`` (:func:`~storybench.story.folders.story_folder_name`).
        story_dir: the story folder itself (overrides ``output_root``).
        story_file: the story's file name in ``story_dir`` (a loaded ``my-story.json``).
        inline_images: render illustrations in the calling thread (tests, scripts).
        autosave: save ``story.json`` after every change.
        max_tokens: token budget of one segment's text (at least 16).
        temperature, top_p, seed: sampling settings of segment requests.
        llm_options: options passed to :func:`get_llm_backend` when ``llm`` is a name.
        image_options: options passed to :func:`get_image_backend` when ``image_backend`` is a name.
        on_image: called (from the render thread) when a segment's image status changes.
        prefetch_images: illustrate prefetched (unvisited) segments too (default: only with
            the offline ``storyboard`` renderer, which costs no GPU time).
        background_settle_s: seconds background LLM work (illustration prompts, prefetching,
            titles) waits after the reader's last segment, so that an immediate click on a
            choice does not queue behind a prompt evaluation (which cannot be interrupted).
        summaries: write each segment's rolling summary after it (background LLM work; with
            ``inline_images`` in the calling thread), for the memory of long branches.
        transcript: ask for a segment after a choice by continuing its parent's request as a
            chat transcript while it fits the context window (a prompt cache then evaluates
            only the new turn: the click's first words come as fast as a warm Start's); off,
            every request is built afresh from the context (premise, world, summary, the last
            ``recent_segments``), which sends fewer tokens to a server without a prompt cache.
        semantic_recall: recall world entries by meaning as well as by keys (multilingual-e5-small
            on the CPU, the ``storybench[memory]`` extra; the world's ``semantic_top_k`` and
            ``semantic_threshold`` apply).

    Raises:
        ConfigError: ``max_tokens`` below 16.
    """

    llm: LLMBackend | str = "llamacpp"
    image_backend: ImageBackend | str | None = "storyboard"
    output_root: str | os.PathLike[str] = DEFAULT_OUTPUT_ROOT
    story_dir: str | os.PathLike[str] | None = None
    story_file: str = "story.json"
    inline_images: bool = False
    autosave: bool = True
    max_tokens: int = 300
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = None
    llm_options: dict[str, Any] = field(default_factory=dict)
    image_options: dict[str, Any] = field(default_factory=dict)
    on_image: SegmentCallback | None = None
    prefetch_images: bool | None = None
    background_settle_s: float = 0.0
    summaries: bool = True
    transcript: bool = True
    semantic_recall: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError(f"max_tokens: {self.max_tokens} is too small for a segment (at least 16)")

    @property
    def sampling(self) -> SamplingOptions:
        """The sampling settings of segment requests."""
        return SamplingOptions(self.max_tokens, self.temperature, self.top_p, self.seed)


def engine_options(options: EngineOptions | None, legacy: dict[str, Any]) -> EngineOptions:
    """``options`` with the keyword arguments of earlier releases applied.

    Raises:
        TypeError: an unknown keyword.
    """
    known = {f.name for f in dataclasses.fields(EngineOptions)}
    unknown = sorted(set(legacy) - known)
    if unknown:
        raise TypeError(f"StoryEngine() got unexpected keyword arguments: {', '.join(unknown)}")
    for key in ("llm_options", "image_options"):
        if key in legacy and legacy[key] is None:
            legacy[key] = {}
    return dataclasses.replace(options or EngineOptions(), **legacy)
