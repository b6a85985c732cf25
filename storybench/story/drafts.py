"""What becomes of a draft: the segment it adds to the story, or the unfinished one it finishes.

A :class:`~storybench.story.writer.Draft` that Stop or the kernel's Interrupt ended
becomes an *unfinished* segment without choices (the interrupt is re-raised once it is
kept); a finished one is split into narrative and choices by the writer and added with
its illustration scheduled. :class:`Place` is where a new segment goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storybench.exceptions import ConfigError
from storybench.story.model import GenerationSettings, Segment, Story
from storybench.story.session import StorySession
from storybench.story.writer import Draft, SegmentWriter

__all__ = ["DraftKeeper", "Place", "unfinished_segment"]


@dataclass(frozen=True)
class Place:
    """Where a new segment goes: after choice ``choice_index`` (text ``choice_text``) of
    ``parent_id``, or an opening when ``parent_id`` is ``None``."""

    parent_id: str | None = None
    choice_index: int | None = None
    choice_text: str = ""

    @classmethod
    def under(cls, story: Story, parent_id: str | None, choice_index: int | None) -> Place:
        """The place after a parent's choice.

        Raises:
            KeyError: unknown ``parent_id``. IndexError: ``choice_index`` out of range.
        """
        if parent_id is None:
            return cls()
        parent = story.segment(parent_id)
        if choice_index is None or not 0 <= choice_index < len(parent.choices):
            raise IndexError(f"segment {parent_id}: choice {choice_index} not in 0..{len(parent.choices) - 1}")
        return cls(parent_id, choice_index, parent.choices[choice_index])


def unfinished_segment(story: Story, segment_id: str | None) -> Segment:
    """The unfinished segment ``segment_id`` (default: the current one).

    Raises:
        ConfigError: no such segment, or it is finished. KeyError: unknown id.
    """
    sid = segment_id or story.current_id
    if sid is None:
        raise ConfigError("story has no segment to continue")
    seg = story.segment(sid)
    if not seg.unfinished:
        raise ConfigError(f"segment {sid} is finished: choose, or Regenerate it")
    return seg


class DraftKeeper:
    """Turns drafts into segments of a session's story.

    Args:
        session: the story's session.
        writer: splits finished drafts into narrative and choices.
        illustrate: schedules a segment's illustration (by id).
        settings: the generation settings recorded on each new segment.
    """

    def __init__(
        self,
        session: StorySession,
        writer: SegmentWriter,
        *,
        illustrate: Callable[[str], Any],
        settings: Callable[[], GenerationSettings],
    ) -> None:
        self.session = session
        self.writer = writer
        self._illustrate = illustrate
        self._settings = settings

    def keep(
        self, draft: Draft, place: Place, *, make_current: bool, visited: bool, illustrate: bool, world: str = ""
    ) -> Segment:
        """Add the segment ``draft`` gave at ``place`` (unfinished when it was stopped: the
        interrupt that stopped it, if any, is re-raised after). ``world``: the world info
        that fired for it (told to a structured choices request)."""
        common: dict[str, Any] = {
            "parent_id": place.parent_id,
            "choice_index": place.choice_index,
            "choice_text": place.choice_text,
            "raw": draft.raw,
            "settings": self._settings(),
            "make_current": make_current,
            "visited": visited,
        }
        if draft.stopped:
            segment = self.session.add_segment(**common, text=draft.text, choices=[], source="", unfinished=True)
            draft.reraise()
            return segment
        language = self.session.story.settings.language
        narrative, choices, source = self.writer.finish_choices(draft.text, language, world)
        segment = self.session.add_segment(**common, text=narrative, choices=choices, source=source)
        if illustrate:
            self._illustrate(segment.id)
        return segment

    def keep_continued(self, seg: Segment, draft: Draft) -> Segment:
        """Append ``draft`` to the unfinished ``seg``; finish it (choices, illustration)
        unless the draft was stopped again."""
        joined = (seg.text.rstrip() + " " + draft.text.lstrip()).strip() if draft.text else seg.text
        raw = seg.raw_text + draft.raw
        if draft.stopped:
            self.session.update(seg, raw_text=raw, text=joined)
            draft.reraise()
            return seg
        language = self.session.story.settings.language
        narrative, choices, source = self.writer.finish_choices(joined, language)
        self.session.update(seg, raw_text=raw, text=narrative, choices=choices, choices_source=source, unfinished=False)
        self._illustrate(seg.id)
        return seg
