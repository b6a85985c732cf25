"""A story path becomes a comic plan: :func:`plan_from_story`.

The path is the chain of segments from the story's opening to a chosen segment
(:meth:`storybench.story.model.Story.path`); other branches are not read. The
planner's stages run over it:

1. **characters** — given; or the world's characters named on the path
   (:func:`storybench.world.characters.characters_in`; a card's description becomes the
   appearance); or stage 1 over the premise and the path's prose, where characters the
   model proposes whose name never occurs on the path are dropped (noted);
2. **structure** — by the code, not the model: the path is split into at most
   ``max_pages`` pages of consecutive segments (:func:`~storybench.planner.story_text.group_pages`),
   each page's layout sized to its quoted speech (about two lines a panel);
3. **panels** — stage 3 per page, with the page's prose as its summary; where the page's
   segments hold quoted speech attributed to a character
   (:func:`~storybench.planner.story_text.speaker`), that speech replaces the model's
   dialogue, in reading order, and the speaker joins the panel.

Every page records the segments it came from (``Page.source_segments``). The plan is
an ordinary plan: it passes :func:`storybench.plan.plan_issues`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storybench.exceptions import ConfigError, PlanValidationError
from storybench.llm.base import LLMBackend, resolve_llm
from storybench.llm.salvage import clip
from storybench.plan.ids import slugify
from storybench.plan.layouts import TEMPLATES, template_id
from storybench.plan.models import Chapter, Character, ComicPlan, Dialogue, Page, PanelPlan, plan_issues
from storybench.planner.planner import PlanResult
from storybench.planner.progress import PlanProgress, ProgressCallback
from storybench.planner.schemas import LAYOUT_PREFERENCE, LIMITS, page_count_rule
from storybench.planner.stages import StageOptions, run_characters, run_panels
from storybench.planner.story_text import group_pages, mentions, quotes, speaker
from storybench.story.model import Segment, Story
from storybench.world.characters import characters_in
from storybench.world.model import World

__all__ = ["StoryCharacter", "plan_from_story"]

_PROSE_FOR_CAST = 3000  # characters of the path's prose shown to stage 1
_PAGE_SUMMARY = 700  # characters of a page's prose shown to stage 3
_LINES_PER_PANEL = 2


@dataclass(frozen=True)
class StoryCharacter:
    """A character known to the story (for example from a world-info character card).

    Attributes:
        name: the name used in the prose.
        appearance: how they look, in English (a card's description).
        clothing: their usual outfit.
        role: their role in the story.
    """

    name: str
    appearance: str
    clothing: str = ""
    role: str = ""


def plan_from_story(
    story: Story,
    segment_id: str | None = None,
    *,
    max_pages: int = 5,
    llm: LLMBackend | str | None = None,
    characters: Sequence[StoryCharacter] | None = None,
    world: World | None = None,
    seed: int | None = None,
    attempts: int = 2,
    plan_id: str | None = None,
    progress: bool = False,
    on_progress: ProgressCallback | None = None,
) -> PlanResult:
    """Plan the comic of the path from the story's opening to ``segment_id``.

    Args:
        story: the story (read only).
        segment_id: the path's last segment; ``None``: the story's current segment.
        max_pages: 1..20; the path's segments are split over at most this many pages.
        llm: a backend object, a registered name, or ``None`` for the default.
        characters: the story's characters; ``None``: the ``world``'s characters named on
            the path, else found by stage 1 in the path's prose.
        world: the story's world info (its characters come from character cards).
        seed: base sampler seed of the requests (``None``: random).
        attempts: tries per request before the code repairs the answer.
        plan_id: the plan's id (a slug); default: from the story's title.
        progress: show a tqdm bar.
        on_progress: called after each stage and page.

    Returns:
        :class:`~storybench.planner.planner.PlanResult` whose plan passes ``plan_issues``.

    Raises:
        ConfigError: no such segment, no segment to start from, a path without prose,
            ``max_pages`` outside 1..20.
        BackendError: the LLM backend failed for another reason than an invalid answer.
    """
    path = _path(story, segment_id, max_pages)
    backend = resolve_llm(llm)
    so = StageOptions(attempts=attempts, seed=seed)
    start = time.perf_counter()
    bar = PlanProgress(progress, on_progress, time.perf_counter)
    run = _StoryRun(backend, story, so, bar)
    try:
        cast = run.cast(path, characters if characters is not None else _world_cast(world, path))
        groups = group_pages(len(path), max_pages)
        bar.set_total(1 + len(groups))
        pages = [run.page(n, [path[i] for i in group], cast) for n, group in enumerate(groups, start=1)]
        title = story.title
        plan = ComicPlan(
            id=plan_id or slugify(title, fallback=slugify(story.id), limit=48),
            title=clip(title, 200),
            style=story.settings.style,
            language=story.settings.language,
            characters=cast,
            chapters=[Chapter(id="ch1", title=clip(title, 200), pages=pages)],
        )
    finally:
        bar.close("")
    issues = plan_issues(plan)
    if issues:
        raise PlanValidationError(issues, source="plan_from_story (internal repair gap)")
    return PlanResult(plan=plan, repairs=run.repairs, seconds=time.perf_counter() - start, requests=run.requests)


def _world_cast(world: World | None, path: Sequence[Segment]) -> list[StoryCharacter] | None:
    """The world's characters named on the path (card description as appearance), or None."""
    if world is None:
        return None
    named = characters_in(world, "\n\n".join(seg.text for seg in path))
    cast = [StoryCharacter(c.name, clip(c.description, 600) or "a character of the story") for c in named]
    return cast or None


def _path(story: Story, segment_id: str | None, max_pages: int) -> list[Segment]:
    """The segments with prose on the path to ``segment_id`` (default: the current one).

    Raises:
        ConfigError: ``max_pages`` outside 1..20, no such segment, no segment to start from,
            a path without prose.
    """
    if not isinstance(max_pages, int) or not 1 <= max_pages <= 20:
        raise ConfigError(f"plan_from_story: max_pages must be 1..20, got {max_pages!r}")
    _check_segment(story, segment_id)
    path = [seg for seg in story.path(segment_id) if seg.text.strip()]
    if not path:
        raise ConfigError(f"story {story.id}: the path to {segment_id or story.current_id!r} has no text yet")
    return path


def _check_segment(story: Story, segment_id: str | None) -> None:
    """Raise ConfigError when ``segment_id`` is not in the story, or is None without a current segment."""
    if segment_id is None and story.current_id is None:
        raise ConfigError(f"story {story.id}: no current segment; name the path's last segment")
    if segment_id is not None and segment_id not in story.segments:
        raise ConfigError(f"story {story.id}: no segment {segment_id!r}")


class _StoryRun:
    """One planning run over a story path: its requests, repair notes and progress."""

    def __init__(self, backend: LLMBackend, story: Story, so: StageOptions, bar: PlanProgress) -> None:
        self.backend = backend
        self.story = story
        self.so = so
        self.bar = bar
        self.repairs: list[str] = []
        self.requests = 0
        self.rule_layouts = page_count_rule(20).layouts
        self.last_location = ""
        self.previous_summary: str | None = None

    def cast(self, path: Sequence[Segment], given: Sequence[StoryCharacter] | None) -> list[Character]:
        """The plan's characters: ``given``, or stage 1 over the path kept to names on it."""
        if given is not None:
            drafts = [
                {"name": c.name, "appearance": c.appearance, "clothing": c.clothing, "role": c.role} for c in given
            ]
        else:
            drafts = self._drafted_cast("\n\n".join(seg.text for seg in path))
        if not drafts:
            raise ConfigError(f"story {self.story.id}: no characters given")
        self.bar.step("characters", f"{len(drafts)} character(s)")
        return [Character.model_validate({"id": f"char-{i}", **d}) for i, d in enumerate(drafts, start=1)]

    def _drafted_cast(self, prose: str) -> list[dict[str, str]]:
        """Stage 1 over ``prose``; drafts whose name is not in it are dropped (with a note) when any is."""
        prompt = f"{self.story.settings.premise}\n\nThe story:\n{clip(prose, _PROSE_FOR_CAST)}"
        drafts, notes = run_characters(self.backend, prompt, self.story.settings.style, self.so, LIMITS.characters)
        self.requests += 1
        self.repairs += notes
        named = [d for d in drafts if mentions(prose, d["name"])]
        if named and len(named) < len(drafts):
            dropped = ", ".join(d["name"] for d in drafts if d not in named)
            self.repairs.append(f"characters: not named on the story path, dropped: {dropped}")
            return named
        return drafts

    def page(self, number: int, segments: Sequence[Segment], cast: Sequence[Character]) -> Page:
        """Stage 3 for the page made of ``segments``; their quoted speech becomes its dialogue."""
        names = [(c.id, c.name) for c in cast]
        lines = [line for seg in segments for line in _speech(seg, names, self.repairs)]
        summary = clip(" ".join(" ".join(seg.text.split()) for seg in segments), _PAGE_SUMMARY)
        layout, panel_dicts, notes = run_panels(
            self.backend,
            prompt=self.story.settings.premise,
            style=self.story.settings.style,
            language=self.story.settings.language,
            cast=[(c.id, c.name, c.role) for c in cast],
            chapter_title=self.story.title,
            page_number=number,
            page_summary=summary,
            layout=_layout(len(lines), self.rule_layouts),
            allowed_layouts=self.rule_layouts,
            path=f"chapters[0].pages[{number - 1}]",
            previous_summary=self.previous_summary,
            last_location=self.last_location,
            so=self.so,
        )
        self.requests += 1
        self.repairs += notes
        if lines:
            _place_speech(panel_dicts, lines, f"chapters[0].pages[{number - 1}]", self.repairs)
        page_id = f"ch1-p{number}"
        panels = [
            PanelPlan(id=f"{page_id}-pan{k}", position=k, **{**p, "dialogue": [Dialogue(**d) for d in p["dialogue"]]})
            for k, p in enumerate(panel_dicts, start=1)
        ]
        self.previous_summary = summary
        self.last_location = panels[-1].location
        self.bar.step("panels", f"page {number} planned")
        return Page(
            id=page_id,
            page_number=number,
            layout=template_id(layout),
            panels=panels,
            source_segments=[seg.id for seg in segments],
        )


def _speech(seg: Segment, names: Sequence[tuple[str, str]], notes: list[str]) -> list[tuple[str, str]]:
    """``(speaker id, text)`` of the segment's quotes whose speaker is named near them."""
    out: list[tuple[str, str]] = []
    found = quotes(seg.text)
    for i, quote in enumerate(found):
        who = speaker(seg.text, quote, names, found[i - 1] if i else None)
        if who is None:
            notes.append(f"segment {seg.id}: no speaker named near {clip(quote.text, 40)!r}; left out")
            continue
        out.append((who, clip(quote.text, 400)))
    return out


def _layout(lines: int, allowed: Sequence[str]) -> str:
    """The preferred layout with enough panels for ``lines`` lines of speech (at least 3 panels)."""
    want = max(3, -(-lines // _LINES_PER_PANEL))
    fits = [t for t in LAYOUT_PREFERENCE if t in allowed and TEMPLATES[t].panel_count >= want]
    if fits:
        return min(fits, key=lambda t: TEMPLATES[t].panel_count)
    return max(allowed, key=lambda t: TEMPLATES[t].panel_count)


def _place_speech(panels: list[dict[str, Any]], lines: Sequence[tuple[str, str]], path: str, notes: list[str]) -> None:
    """Replace the panels' dialogue with ``lines``, spread over the panels in order
    (at most two a panel); each speaker joins the panel's characters."""
    n = len(panels)
    room = _LINES_PER_PANEL * n
    if len(lines) > room:
        notes.append(f"{path}: {len(lines)} quoted lines, room for {room}; the last {len(lines) - room} left out")
        lines = lines[:room]
    for k, panel in enumerate(panels):
        mine = lines[k * len(lines) // n : (k + 1) * len(lines) // n]
        panel["dialogue"] = [{"character": who, "text": text} for who, text in mine]
        for who, _ in mine:
            if who not in panel["characters"]:
                panel["characters"].append(who)
