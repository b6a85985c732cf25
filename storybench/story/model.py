"""The branching story as data: a graph of segments joined by the choices that led to them.

A :class:`Story` holds its settings (premise, style, language), every segment ever
generated, and the id of the segment the reader is on. A segment knows its parent
and the index of the parent's choice that led to it, so the graph is a forest of
trees (several roots when the opening was regenerated). Regenerating a segment adds
a *sibling* (same parent, same choice); the old version and everything below it stay
in the graph. Nothing is ever deleted.

Persistence: :meth:`Story.save` writes versioned JSON atomically
(``{"format": "storybench.story", "version": 1, ...}``); :func:`load_story` reads it
back and says where a broken file is wrong.

Folder layout of a story (``outputs/stories/<title slug>-<id start>/``, see
:mod:`storybench.story.folders`)::

    story.json
    images/<segment_id>.png
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storybench.exceptions import StorybenchError
from storybench.files import atomic_write_json
from storybench.plan.styles import STYLE_IDS
from storybench.story.context_record import ContextRecord
from storybench.world.model import World

__all__ = [
    "STORY_FORMAT",
    "STORY_FORMAT_VERSION",
    "GenerationSettings",
    "ImageStatus",
    "Segment",
    "Story",
    "StoryFormatError",
    "StorySettings",
    "load_story",
]

STORY_FORMAT = "storybench.story"
STORY_FORMAT_VERSION = 1

ImageStatus = Literal["pending", "rendering", "done", "failed"]


class StoryFormatError(StorybenchError, ValueError):
    """A story file cannot be read: not JSON, wrong format/version, or invalid fields.

    Attributes:
        source: the file, when there was one.
    """

    def __init__(self, message: str, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class GenerationSettings(BaseModel):
    """How one segment's text was generated (kept with the segment).

    Attributes:
        llm: the LLM backend name, e.g. ``"llamacpp"``.
        model: the backend's model name, when it has one.
        temperature: sampling temperature.
        top_p: nucleus sampling mass.
        max_tokens: the token budget of the segment text.
        seed: sampler seed, ``None`` for random.
    """

    model_config = ConfigDict(extra="ignore")

    llm: str = ""
    model: str | None = None
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 300
    seed: int | None = None


class StorySettings(BaseModel):
    """What the whole story is about and how it is told.

    Attributes:
        premise: the writer's premise, any language.
        style: a style id of :mod:`storybench.plan.styles` (narrative tone and art style).
        language: BCP-47 tag of the story's language, e.g. ``"en"``, ``"uk"``, ``"ru"``.
        title: display title (defaults to the premise's first words).
        segments_per_chapter: how many segments make one chapter (for the context prompt).
        image_width, image_height: illustration size in pixels (multiples of 8).
        author_note: a note to the model put ``author_note_depth`` segments from the end of the context.
        author_note_depth: 0 puts it after the newest segment.
        recent_segments: the last segments sent in full (older ones reach it through summaries).
    """

    model_config = ConfigDict(extra="ignore")

    premise: str = Field(min_length=1, max_length=4000)
    style: str = "noir"
    language: str = Field("en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    title: str = ""
    segments_per_chapter: int = Field(5, ge=1, le=100)
    image_width: int = Field(768, ge=64, le=4096, multiple_of=8)
    image_height: int = Field(512, ge=64, le=4096, multiple_of=8)
    author_note: str = Field("", max_length=2000)
    author_note_depth: int = Field(2, ge=0, le=50)
    recent_segments: int = Field(4, ge=1, le=50)

    @field_validator("style")
    @classmethod
    def _known_style(cls, value: str) -> str:
        if value not in STYLE_IDS:
            raise ValueError(f"unknown style {value!r}; known: {', '.join(STYLE_IDS)}")
        return value

    @field_validator("premise")
    @classmethod
    def _premise_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("premise is blank")
        return value.strip()


class Segment(BaseModel):
    """One node of the story graph.

    Attributes:
        id: unique in the story, e.g. ``"s003"`` (also the Twine passage name).
        parent_id: the segment this one continues; ``None`` for an opening.
        choice_index: index into the parent's :attr:`choices` that led here (``None`` for an opening).
        choice_text: that choice's text, kept even if the parent's choices change.
        text: the narrative text shown to the reader (choice lines removed).
        raw_text: the model's whole answer, as generated.
        choices: 2-4 choices offered at the end of the segment.
        choices_source: where the choices came from: ``"text"`` (parsed), ``"structured"``
            (asked again), ``"default"`` (language defaults).
        illustration_prompt: English visual description, at most 30 words ("" until made).
        image_path: the illustration's path relative to the story folder ("" until rendered).
        image_status: ``pending``, ``rendering``, ``done`` or ``failed``.
        image_error: what went wrong when ``image_status`` is ``failed``.
        settings: how the text was generated.
        created_at: ISO 8601 UTC timestamp.
        unfinished: the writer stopped it before the end: no choices yet (continue or regenerate it).
        visited: the reader has been here; ``False`` for a continuation written ahead by the
            prefetcher and not chosen (an unvisited branch).
        summary: the rolling summary of the story up to and including this segment ("" until written).
        context: what the model received when this segment was written (``None`` for older files).
    """

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    parent_id: str | None = None
    choice_index: int | None = Field(default=None, ge=0)
    choice_text: str = ""
    text: str = ""
    raw_text: str = ""
    choices: list[str] = Field(default_factory=list)
    choices_source: Literal["text", "structured", "default", ""] = ""
    illustration_prompt: str = ""
    image_path: str = ""
    image_status: ImageStatus = "pending"
    image_error: str = ""
    settings: GenerationSettings = Field(default_factory=GenerationSettings)
    created_at: str = Field(default_factory=_now)
    unfinished: bool = False
    visited: bool = True
    summary: str = ""
    context: ContextRecord | None = None


class Story(BaseModel):
    """A branching story: settings, every segment, and where the reader is.

    Attributes:
        id: story id (folder name under ``outputs/stories/``).
        ifid: Twine IFID, an uppercase UUID4, kept for the story's lifetime.
        settings: premise, style, language...
        segments: every segment by id, in creation order.
        current_id: the segment the reader is on (``None`` before the first one).
        next_number: the number the next segment id gets.
        world: the story's world info and characters (``None``: none).
    """

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12], pattern=r"^[A-Za-z0-9_-]+$")
    ifid: str = Field(default_factory=lambda: str(uuid.uuid4()).upper())
    settings: StorySettings
    segments: dict[str, Segment] = Field(default_factory=dict)
    current_id: str | None = None
    next_number: int = 1
    created_at: str = Field(default_factory=_now)
    world: World | None = None

    # ----------------------------------------------------------------- graph
    @property
    def title(self) -> str:
        """The title, or the premise's first six words."""
        if self.settings.title.strip():
            return self.settings.title.strip()
        words = self.settings.premise.split()
        return " ".join(words[:6]) + ("…" if len(words) > 6 else "")

    @property
    def current(self) -> Segment | None:
        """The segment the reader is on."""
        return self.segments.get(self.current_id) if self.current_id else None

    def segment(self, segment_id: str) -> Segment:
        """The segment ``segment_id``.

        Raises:
            KeyError: no such segment; the message names the story.
        """
        try:
            return self.segments[segment_id]
        except KeyError:
            raise KeyError(f"story {self.id}: no segment {segment_id!r}") from None

    def new_segment_id(self) -> str:
        """Reserve the next segment id (``s001``, ``s002``...)."""
        sid = f"s{self.next_number:03d}"
        while sid in self.segments:
            self.next_number += 1
            sid = f"s{self.next_number:03d}"
        self.next_number += 1
        return sid

    def add(self, segment: Segment) -> Segment:
        """Add ``segment`` to the graph.

        Raises:
            ValueError: its id is taken, its parent is unknown, or its choice index is out of range.
        """
        if segment.id in self.segments:
            raise ValueError(f"story {self.id}: segment id {segment.id!r} already used")
        if segment.parent_id is not None:
            parent = self.segment(segment.parent_id)
            if segment.choice_index is None or not 0 <= segment.choice_index < len(parent.choices):
                raise ValueError(
                    f"story {self.id}: segment {segment.id}: choice_index {segment.choice_index} "
                    f"not in 0..{len(parent.choices) - 1} of {parent.id}"
                )
        self.segments[segment.id] = segment
        return segment

    def roots(self) -> list[Segment]:
        """Openings (segments without a parent), oldest first."""
        return [s for s in self.segments.values() if s.parent_id is None]

    def children(self, segment_id: str | None) -> list[Segment]:
        """Segments continuing ``segment_id`` (openings for ``None``), oldest first."""
        return [s for s in self.segments.values() if s.parent_id == segment_id]

    def children_for(self, segment_id: str, choice_index: int) -> list[Segment]:
        """Versions generated for one choice of ``segment_id``, oldest first."""
        return [s for s in self.children(segment_id) if s.choice_index == choice_index]

    def path(self, segment_id: str | None = None) -> list[Segment]:
        """Segments from the opening to ``segment_id`` (default: the current one), inclusive."""
        sid = segment_id if segment_id is not None else self.current_id
        out: list[Segment] = []
        seen: set[str] = set()
        while sid is not None:
            if sid in seen:
                raise ValueError(f"story {self.id}: cycle at segment {sid}")
            seen.add(sid)
            seg = self.segment(sid)
            out.append(seg)
            sid = seg.parent_id
        return out[::-1]

    def depth(self, segment_id: str) -> int:
        """0 for an opening, 1 for its children..."""
        return len(self.path(segment_id)) - 1

    def chapter(self, segment_id: str) -> int:
        """The chapter number (from 1) of a segment: ``depth // segments_per_chapter + 1``."""
        return self.depth(segment_id) // self.settings.segments_per_chapter + 1

    def recent_choices(self, segment_id: str | None = None, n: int = 3) -> list[str]:
        """The texts of the last ``n`` choices taken on the path to ``segment_id``, oldest first."""
        taken = [s.choice_text for s in self.path(segment_id) if s.parent_id is not None and s.choice_text]
        return taken[-n:] if n > 0 else []

    def shown_child(self, segment_id: str, choice_index: int) -> Segment | None:
        """The version of a choice's continuation to link to: the one on the current path
        when there is one, else the newest."""
        versions = self.children_for(segment_id, choice_index)
        if not versions:
            return None
        on_path = {s.id for s in self.path()} if self.current_id else set()
        for seg in versions:
            if seg.id in on_path:
                return seg
        return versions[-1]

    def version(self, segment_id: str) -> int:
        """1 for the first segment written for its parent and choice, 2 for the first
        regenerated one... (``v2``, ``v3`` in the branch tree)."""
        seg = self.segment(segment_id)
        parent = seg.parent_id
        siblings = self.roots() if parent is None else self.children_for(parent, seg.choice_index or 0)
        return [s.id for s in siblings].index(seg.id) + 1

    def walk(self) -> Iterator[tuple[int, Segment]]:
        """Every segment depth-first from the openings, as ``(depth, segment)``."""

        def visit(seg: Segment, depth: int) -> Iterator[tuple[int, Segment]]:
            yield depth, seg
            for child in self.children(seg.id):
                yield from visit(child, depth + 1)

        for root in self.roots():
            yield from visit(root, 0)

    def start_id(self) -> str | None:
        """The opening of the current path (else the newest opening): the Twine start passage."""
        if self.current_id:
            return self.path()[0].id
        roots = self.roots()
        return roots[-1].id if roots else None

    # ----------------------------------------------------------- persistence
    def to_json_dict(self) -> dict[str, Any]:
        """The versioned JSON document of this story."""
        body = self.model_dump(mode="json")
        return {"format": STORY_FORMAT, "version": STORY_FORMAT_VERSION, **body}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the story as versioned JSON to ``path`` atomically.

        Returns:
            The written path.

        Raises:
            OSError: the folder cannot be written.
        """
        return atomic_write_json(path, self.to_json_dict())

    @classmethod
    def from_json_dict(cls, data: Any, source: str | None = None) -> Story:
        """Parse a story document (see :meth:`to_json_dict`).

        Raises:
            StoryFormatError: wrong format or version, or invalid fields (with JSON paths).
        """
        body = _story_body(data, source)
        try:
            story = cls.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise StoryFormatError(problems, source) from exc
        _check_links(story, source)
        return story


def _story_body(data: Any, source: str | None) -> dict[str, Any]:
    """A story document's fields without its format header (checked here).

    Raises:
        StoryFormatError: not an object, another format, or an unsupported version.
    """
    if not isinstance(data, dict):
        raise StoryFormatError("(root): expected a JSON object", source)
    if data.get("format") != STORY_FORMAT:
        raise StoryFormatError(f"format: expected {STORY_FORMAT!r}, got {data.get('format')!r}", source)
    version = data.get("version")
    if not isinstance(version, int) or version > STORY_FORMAT_VERSION or version < 1:
        raise StoryFormatError(
            f"version: unsupported {version!r} (this storybench reads up to {STORY_FORMAT_VERSION})", source
        )
    return {k: v for k, v in data.items() if k not in ("format", "version")}


def _check_links(story: Story, source: str | None) -> None:
    """Raise :class:`StoryFormatError` for a parent or current id that names no segment."""
    for seg in story.segments.values():
        if seg.parent_id is not None and seg.parent_id not in story.segments:
            raise StoryFormatError(f"segments.{seg.id}.parent_id: unknown segment {seg.parent_id!r}", source)
    if story.current_id is not None and story.current_id not in story.segments:
        raise StoryFormatError(f"current_id: unknown segment {story.current_id!r}", source)


def load_story(path: str | os.PathLike[str]) -> Story:
    """Read a story saved by :meth:`Story.save`.

    Raises:
        StoryFormatError: not JSON (with line:column), or not a valid story document.
        OSError: the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoryFormatError(f"line {exc.lineno}:{exc.colno}: {exc.msg}", str(path)) from exc
    return Story.from_json_dict(data, source=str(path))
