"""What the code fixes when an LLM answer still breaks the rules after the retries.

Every function here takes the raw decoded JSON of an answer (valid or not: the
last attempt of a failed structured request is parsed leniently), reads it through
the lenient models of :mod:`storybench.planner.lenient` (anything in, clipped typed
fields out), and returns clean data and a list of human-readable repair notes, each
starting with the JSON path of the place it changed (``chapters[0].pages[1]: ...``).
A valid answer passes through unchanged with no notes.

Repairs: switch a page to a layout that fits the panel count it got; map
characters and speakers given by name to their ids, drop unknown ones; fill empty
fields from context (page summary, previous panel); bring chapter and page counts
inside the page-count rule; make ids unique and file-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from storybench.llm.salvage import clip
from storybench.plan.ids import resolve_character
from storybench.plan.layouts import TEMPLATES, layout_for_count
from storybench.planner.lenient import (
    RawChapter,
    RawCharacter,
    RawCharacters,
    RawLine,
    RawPanel,
    RawPanels,
    RawStructure,
    lenient,
)
from storybench.planner.schemas import CAMERA_SHOTS, LIMITS, PageCountRule

__all__ = ["repair_characters", "repair_panels", "repair_structure"]

#: The character a plan gets when the answer named none.
DEFAULT_HERO = {
    "name": "Hero",
    "appearance": "young adult with a determined face, short dark hair",
    "clothing": "plain everyday clothes",
    "role": "hero",
}
#: The layouts a page is given, in turn, when its own is not allowed.
LAYOUT_CYCLE = ("big-top", "grid-2x2", "three-rows", "two-horizontal", "single")
DEFAULT_CAMERA = "medium shot"
DEFAULT_LOCATION = "unspecified place"
DEFAULT_ACTION = "the scene continues"


# -- stage 1 ----------------------------------------------------------------------
def _character(item: RawCharacter, path: str, number: int, used: set[str], notes: list[str]) -> dict[str, str]:
    """One clean character (``number`` counts from 1); ``used`` holds the lower-case names so far."""
    name = item.name
    if not name:
        name = f"Character {number}"
        notes.append(f"{path}.name: empty; named it {name!r}")
    if name.lower() in used:
        new = f"{name} {number}"
        notes.append(f"{path}.name: {name!r} was already used; renamed to {new!r}")
        name = new
    appearance = item.appearance
    if not appearance:
        appearance = clip(f"{item.role or 'main character'}, distinctive face and hair", LIMITS.appearance)
        notes.append(f"{path}.appearance: empty; filled from the role ({appearance!r})")
    used.add(name.lower())
    return {"name": name, "appearance": appearance, "clothing": item.clothing, "role": item.role}


def repair_characters(
    raw: Any, prompt: str, max_characters: int = LIMITS.characters
) -> tuple[list[dict[str, str]], list[str]]:
    """Clean stage 1 data into at most ``max_characters`` characters (at least one).

    Returns:
        ``([{"name", "appearance", "clothing", "role"}, ...], notes)``.
    """
    notes: list[str] = []
    answer: RawCharacters = lenient(RawCharacters, raw)
    if not answer.listed:
        notes.append("characters: the answer had no character list")
    used: set[str] = set()
    out = [_character(item, f"characters[{i}]", i + 1, used, notes) for i, item in enumerate(answer.characters)]
    if len(out) > max_characters:
        dropped = [c["name"] for c in out[max_characters:]]
        notes.append(f"characters: kept the first {max_characters}, dropped {', '.join(dropped)}")
        out = out[:max_characters]
    if not out:
        out = [dict(DEFAULT_HERO)]
        notes.append(f"characters: none given; added a default hero for {clip(prompt, 60)!r}")
    return out, notes


# -- stage 2 ----------------------------------------------------------------------
def _default_layout(allowed: Sequence[str], index: int) -> str:
    cycle = [t for t in LAYOUT_CYCLE if t in allowed]
    return cycle[index % len(cycle)] if cycle else allowed[0]


@dataclass
class _Structure:
    """The stage 2 result being repaired: chapters of ``{"summary", "layout"}`` pages."""

    title: str
    chapters: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(c["pages"]) for c in self.chapters)


def _clean_chapter(raw: RawChapter, done: _Structure, allowed: Sequence[str], first_page: int) -> list[dict[str, Any]]:
    """The pages of one chapter with summaries and allowed layouts (``first_page``: its pages' start index)."""
    pages: list[dict[str, Any]] = []
    for page in raw.pages:
        path = f"chapters[{len(done.chapters)}].pages[{len(pages)}]"
        summary = page.summary
        if not summary:
            summary = clip(f"{raw.title or done.title}: the story goes on", LIMITS.summary)
            done.notes.append(f"{path}.summary: empty; filled from the chapter title")
        layout = page.layout
        if layout not in allowed:
            new = _default_layout(allowed, first_page + len(pages))
            done.notes.append(f"{path}.layout: {layout!r} is not allowed here; used {new!r}")
            layout = new
        pages.append({"summary": summary, "layout": layout})
    return pages


def _bound_pages(done: _Structure, rule: PageCountRule, prompt: str) -> None:
    """Drop pages from the end, or add pages to the last chapter, until the total obeys ``rule``."""
    chapters, total = done.chapters, done.total
    if total > rule.max_pages_total:
        excess = total - rule.max_pages_total
        done.notes.append(f"chapters: {total} pages is more than {rule.max_pages_total}; dropped the last {excess}")
        for _ in range(excess):
            chapters[-1]["pages"].pop()
            if not chapters[-1]["pages"]:
                chapters.pop()
    total = done.total
    if total < rule.min_pages:
        missing = rule.min_pages - total
        done.notes.append(f"chapters: {total} page(s) is fewer than {rule.min_pages}; added {missing} page(s)")
        chapters[-1]["pages"].extend(
            {
                "summary": clip(f"{prompt} (part {total + k + 1})", LIMITS.summary),
                "layout": _default_layout(rule.layouts, total + k),
            }
            for k in range(missing)
        )


def _bound_chapters(done: _Structure, rule: PageCountRule) -> None:
    """Merge the last chapters, or split the biggest, until the chapter count obeys ``rule``."""
    chapters = done.chapters
    if len(chapters) > rule.max_chapters:
        extra = chapters[rule.max_chapters :]
        done.notes.append(
            f"chapters: {len(chapters)} chapters is more than {rule.max_chapters}; "
            f"moved the pages of {', '.join(repr(c['title']) for c in extra)} into chapter {rule.max_chapters}"
        )
        del chapters[rule.max_chapters :]
        for c in extra:
            chapters[-1]["pages"].extend(c["pages"])
    while len(chapters) < rule.min_chapters:
        biggest = max(range(len(chapters)), key=lambda i: len(chapters[i]["pages"]))
        pages = chapters[biggest]["pages"]
        if len(pages) < 2:
            break  # cannot happen: min_pages >= min_chapters in every rule
        half = len(pages) // 2
        chapters[biggest]["pages"] = pages[:half]
        chapters.insert(biggest + 1, {"title": f"Chapter {len(chapters) + 1}", "pages": pages[half:]})
        done.notes.append(f"chapters: fewer than {rule.min_chapters} chapters; split chapter {biggest + 1} in two")


def repair_structure(raw: Any, rule: PageCountRule, prompt: str) -> tuple[dict[str, Any], list[str]]:
    """Clean stage 2 data so chapter and page counts obey ``rule`` and every page
    has a summary and an allowed layout.

    Returns:
        ``({"title", "chapters": [{"title", "pages": [{"summary", "layout"}]}]}, notes)``.
    """
    answer: RawStructure = lenient(RawStructure, raw)
    done = _Structure(title=answer.title)
    if not done.title:
        done.title = clip(prompt, LIMITS.title) or "Untitled comic"
        done.notes.append(f"title: empty; took it from the prompt ({done.title!r})")
    page_index = 0
    for ci, chapter in enumerate(answer.chapters):
        pages = _clean_chapter(chapter, done, rule.layouts, page_index)
        page_index += len(pages)
        if not pages:
            done.notes.append(f"chapters[{ci}]: had no pages; dropped it")
            continue
        title = chapter.title
        if not title:
            title = f"Chapter {len(done.chapters) + 1}"
            done.notes.append(f"chapters[{len(done.chapters)}].title: empty; named it {title!r}")
        done.chapters.append({"title": title, "pages": pages})
    if not done.chapters:
        done.notes.append("chapters: none usable; built a default structure from the prompt")
        done.chapters = [{"title": "Chapter 1", "pages": []}]
    _bound_pages(done, rule, prompt)
    _bound_chapters(done, rule)
    return {"title": done.title, "chapters": done.chapters}, done.notes


# -- stage 3 ----------------------------------------------------------------------
def _camera(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    for shot in CAMERA_SHOTS:
        if key == shot.lower():
            return shot
    for shot in CAMERA_SHOTS:
        if shot.lower() in key:
            return shot
    return None


def _panel(
    *,
    characters: list[str],
    action: str,
    location: str,
    mood: str = "",
    camera: str = DEFAULT_CAMERA,
    dialogue: list[dict[str, str]] | None = None,
    narrative: str = "",
    sfx: str = "",
) -> dict[str, Any]:
    """A panel dict with the fields of :class:`~storybench.plan.models.PanelPlan` but ``id`` and ``position``."""
    return {
        "characters": characters,
        "action": action,
        "location": location,
        "mood": mood,
        "camera": camera,
        "dialogue": dialogue or [],
        "narrative": narrative or None,
        "sfx": sfx or None,
    }


@dataclass
class _PageContext:
    """What one page's panels are repaired against."""

    characters: Sequence[tuple[str, str]]
    page_summary: str
    path: str
    notes: list[str]


def _cast(refs: list[Any], kpath: str, ctx: _PageContext) -> list[str]:
    cast: list[str] = []
    for ref in refs:
        cid = resolve_character(ref, ctx.characters)
        if cid is None:
            ctx.notes.append(f"{kpath}.characters: dropped unknown character {ref!r}")
        elif cid not in cast:
            if isinstance(ref, str) and ref != cid:
                ctx.notes.append(f"{kpath}.characters: mapped {ref!r} to {cid!r}")
            cast.append(cid)
    return cast


def _lines(raw: list[RawLine], kpath: str, cast: list[str], ctx: _PageContext) -> list[dict[str, str]]:
    """The dialogue lines with known speakers (added to ``cast`` when missing there)."""
    lines = []
    for di, line in enumerate(raw):
        ref = line.speaker
        if not line.text:
            ctx.notes.append(f"{kpath}.dialogue[{di}]: dropped a line with no text")
            continue
        cid = resolve_character(ref, ctx.characters)
        if cid is None:
            ctx.notes.append(f"{kpath}.dialogue[{di}]: dropped the line {line.text!r} of unknown speaker {ref!r}")
            continue
        if isinstance(ref, str) and ref != cid:
            ctx.notes.append(f"{kpath}.dialogue[{di}].character: mapped {ref!r} to {cid!r}")
        if cid not in cast:
            cast.append(cid)
        lines.append({"character": cid, "text": line.text})
    return lines


def _clean_panel(raw: RawPanel, kpath: str, location: str, ctx: _PageContext) -> dict[str, Any]:
    """One clean panel; ``location`` is the previous panel's, for an empty one."""
    cast = _cast(raw.characters, kpath, ctx)
    lines = _lines(raw.dialogue, kpath, cast, ctx)
    action = raw.action
    if not action:
        action = clip(ctx.page_summary, LIMITS.action) or DEFAULT_ACTION
        ctx.notes.append(f"{kpath}.action: empty; filled from the page summary")
    loc = raw.location
    if not loc:
        loc = location or DEFAULT_LOCATION
        ctx.notes.append(f"{kpath}.location: empty; used {loc!r}")
    camera = _camera(raw.camera)
    if camera is None:
        camera = DEFAULT_CAMERA
        if raw.camera:
            ctx.notes.append(f"{kpath}.camera: {raw.camera!r} is not a known shot; used {DEFAULT_CAMERA!r}")
    return _panel(
        characters=cast,
        action=action,
        location=loc,
        mood=raw.mood,
        camera=camera,
        dialogue=lines,
        narrative=raw.narrative,
        sfx=raw.sfx,
    )


def _fit_layout(
    layout: str, panels: list[dict[str, Any]], allowed: Sequence[str], last_location: str, ctx: _PageContext
) -> tuple[str, list[dict[str, Any]]]:
    """The layout and panels with as many panels as the layout needs (switching layout when one fits)."""
    need = TEMPLATES[layout].panel_count
    if len(panels) == need:
        return layout, panels
    if not panels:
        ctx.notes.append(f"{ctx.path}.panels: no usable panels; added {need} from the page summary")
        action = clip(ctx.page_summary, LIMITS.action) or DEFAULT_ACTION
        location = last_location or DEFAULT_LOCATION
        return layout, [_panel(characters=[], action=action, location=location) for _ in range(need)]
    max_panels = max(TEMPLATES[t].panel_count for t in allowed)
    if len(panels) > max_panels:
        ctx.notes.append(
            f"{ctx.path}.panels: {len(panels)} panels is more than any layout holds; dropped the last "
            f"{len(panels) - max_panels}"
        )
        panels = panels[:max_panels]
    new_layout = layout_for_count(len(panels), allowed)
    if new_layout and len(panels) != need:
        ctx.notes.append(
            f"{ctx.path}.layout: {layout!r} needs {need} panels, the model gave {len(panels)}; switched to "
            f"{new_layout!r}"
        )
        layout = new_layout
    return layout, panels


def repair_panels(
    raw: Any,
    *,
    layout: str,
    allowed_layouts: Sequence[str],
    characters: Sequence[tuple[str, str]],
    page_summary: str,
    path: str,
    last_location: str = "",
) -> tuple[str, list[dict[str, Any]], list[str]]:
    """Clean stage 3 data of one page.

    Args:
        raw: decoded answer (``{"panels": [...]}``) or anything else.
        layout: the page's layout from stage 2.
        allowed_layouts: layouts the page may switch to.
        characters: ``(id, name)`` of every plan character.
        page_summary: fills an empty action.
        path: the page's JSON path, for the notes.
        last_location: fills an empty location of the page's first panel.

    Returns:
        ``(layout, panels, notes)``; ``panels`` are dicts with the fields of
        :class:`~storybench.plan.models.PanelPlan` except ``id`` and ``position``,
        exactly as many as ``layout`` needs.
    """
    ctx = _PageContext(characters=characters, page_summary=page_summary, path=path, notes=[])
    answer: RawPanels = lenient(RawPanels, raw)
    panels: list[dict[str, Any]] = []
    location = last_location
    for ki, item in enumerate(answer.panels):
        panel = _clean_panel(item, f"{path}.panels[{ki}]", location, ctx)
        location = panel["location"]
        panels.append(panel)
    layout, panels = _fit_layout(layout, panels, allowed_layouts, last_location, ctx)
    return layout, panels, ctx.notes
