"""What the code fixes when an LLM answer still breaks the rules after the retries.

Every function here takes the raw decoded JSON of an answer (valid or not: the
last attempt of a failed structured request is parsed leniently), returns clean
data and a list of human-readable repair notes, each starting with the JSON path
of the place it changed (``chapters[0].pages[1]: ...``). A valid answer passes
through unchanged with no notes.

Repairs: switch a page to a layout that fits the panel count it got; map
characters and speakers given by name to their ids, drop unknown ones; fill empty
fields from context (page summary, previous panel); bring chapter and page counts
inside the page-count rule; make ids unique and file-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storybench.llm.salvage import clip
from storybench.plan.ids import resolve_character
from storybench.plan.layouts import TEMPLATES, layout_for_count
from storybench.planner.schemas import CAMERA_SHOTS, LIMITS, PageCountRule

__all__ = ["repair_characters", "repair_panels", "repair_structure"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- stage 1 ----------------------------------------------------------------------
def repair_characters(
    raw: Any, prompt: str, max_characters: int = LIMITS.characters
) -> tuple[list[dict[str, str]], list[str]]:
    """Clean stage 1 data into at most ``max_characters`` characters (at least one).

    Returns:
        ``([{"name", "appearance", "clothing", "role"}, ...], notes)``.
    """
    notes: list[str] = []
    items = _as_list(_as_dict(raw).get("characters"))
    if not isinstance(raw, dict) or not isinstance(_as_dict(raw).get("characters"), list):
        notes.append("characters: the answer had no character list")
    out: list[dict[str, str]] = []
    names: set[str] = set()
    for item in items:
        d = _as_dict(item)
        path = f"characters[{len(out)}]"
        name = clip(d.get("name"), LIMITS.name)
        if not name:
            name = f"Character {len(out) + 1}"
            notes.append(f"{path}.name: empty; named it {name!r}")
        if name.lower() in names:
            new = f"{name} {len(out) + 1}"
            notes.append(f"{path}.name: {name!r} was already used; renamed to {new!r}")
            name = new
        role = clip(d.get("role"), LIMITS.role)
        appearance = clip(d.get("appearance"), LIMITS.appearance)
        if not appearance:
            appearance = clip(f"{role or 'main character'}, distinctive face and hair", LIMITS.appearance)
            notes.append(f"{path}.appearance: empty; filled from the role ({appearance!r})")
        names.add(name.lower())
        out.append(
            {"name": name, "appearance": appearance, "clothing": clip(d.get("clothing"), LIMITS.clothing), "role": role}
        )
    if len(out) > max_characters:
        dropped = [c["name"] for c in out[max_characters:]]
        notes.append(f"characters: kept the first {max_characters}, dropped {', '.join(dropped)}")
        out = out[:max_characters]
    if not out:
        out = [
            {
                "name": "Hero",
                "appearance": "young adult with a determined face, short dark hair",
                "clothing": "plain everyday clothes",
                "role": "hero",
            }
        ]
        notes.append(f"characters: none given; added a default hero for {clip(prompt, 60)!r}")
    return out, notes


# -- stage 2 ----------------------------------------------------------------------
def _default_layout(allowed: Sequence[str], index: int) -> str:
    cycle = [t for t in ("big-top", "grid-2x2", "three-rows", "two-horizontal", "single") if t in allowed]
    return cycle[index % len(cycle)] if cycle else allowed[0]


def repair_structure(raw: Any, rule: PageCountRule, prompt: str) -> tuple[dict[str, Any], list[str]]:
    """Clean stage 2 data so chapter and page counts obey ``rule`` and every page
    has a summary and an allowed layout.

    Returns:
        ``({"title", "chapters": [{"title", "pages": [{"summary", "layout"}]}]}, notes)``.
    """
    notes: list[str] = []
    d = _as_dict(raw)
    title = clip(d.get("title"), LIMITS.title)
    if not title:
        title = clip(prompt, LIMITS.title) or "Untitled comic"
        notes.append(f"title: empty; took it from the prompt ({title!r})")
    allowed = rule.layouts
    chapters: list[dict[str, Any]] = []
    page_index = 0
    for ci, ch in enumerate(_as_list(d.get("chapters"))):
        chd = _as_dict(ch)
        ctitle = clip(chd.get("title"), LIMITS.title)
        pages: list[dict[str, Any]] = []
        for pg in _as_list(chd.get("pages")):
            pgd = _as_dict(pg)
            path = f"chapters[{len(chapters)}].pages[{len(pages)}]"
            summary = clip(pgd.get("summary"), LIMITS.summary)
            if not summary:
                summary = clip(f"{ctitle or title}: the story goes on", LIMITS.summary)
                notes.append(f"{path}.summary: empty; filled from the chapter title")
            layout = pgd.get("layout")
            if layout not in allowed:
                new = _default_layout(allowed, page_index)
                notes.append(f"{path}.layout: {layout!r} is not allowed here; used {new!r}")
                layout = new
            pages.append({"summary": summary, "layout": layout})
            page_index += 1
        if not pages:
            notes.append(f"chapters[{ci}]: had no pages; dropped it")
            continue
        if not ctitle:
            ctitle = f"Chapter {len(chapters) + 1}"
            notes.append(f"chapters[{len(chapters)}].title: empty; named it {ctitle!r}")
        chapters.append({"title": ctitle, "pages": pages})

    if not chapters:
        notes.append("chapters: none usable; built a default structure from the prompt")
        chapters = [{"title": "Chapter 1", "pages": []}]

    # total pages within bounds
    total = sum(len(c["pages"]) for c in chapters)
    if total > rule.max_pages_total:
        excess = total - rule.max_pages_total
        notes.append(f"chapters: {total} pages is more than {rule.max_pages_total}; dropped the last {excess}")
        while excess:
            last = chapters[-1]
            last["pages"].pop()
            excess -= 1
            if not last["pages"]:
                chapters.pop()
    total = sum(len(c["pages"]) for c in chapters)
    if total < rule.min_pages:
        missing = rule.min_pages - total
        notes.append(f"chapters: {total} page(s) is fewer than {rule.min_pages}; added {missing} page(s)")
        for k in range(missing):
            chapters[-1]["pages"].append(
                {
                    "summary": clip(f"{prompt} (part {total + k + 1})", LIMITS.summary),
                    "layout": _default_layout(allowed, total + k),
                }
            )

    # chapter count within bounds
    if len(chapters) > rule.max_chapters:
        extra = chapters[rule.max_chapters :]
        notes.append(
            f"chapters: {len(chapters)} chapters is more than {rule.max_chapters}; "
            f"moved the pages of {', '.join(repr(c['title']) for c in extra)} into chapter {rule.max_chapters}"
        )
        chapters = chapters[: rule.max_chapters]
        for c in extra:
            chapters[-1]["pages"].extend(c["pages"])
    while len(chapters) < rule.min_chapters:
        biggest = max(range(len(chapters)), key=lambda i: len(chapters[i]["pages"]))
        pages = chapters[biggest]["pages"]
        if len(pages) < 2:
            break  # cannot happen: min_pages >= min_chapters in every rule
        half = len(pages) // 2
        second_half = {"title": f"Chapter {len(chapters) + 1}", "pages": pages[half:]}
        chapters[biggest]["pages"] = pages[:half]
        chapters.insert(biggest + 1, second_half)
        notes.append(f"chapters: fewer than {rule.min_chapters} chapters; split chapter {biggest + 1} in two")
    return {"title": title, "chapters": chapters}, notes


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
    notes: list[str] = []
    items = _as_list(_as_dict(raw).get("panels"))
    panels: list[dict[str, Any]] = []
    location = last_location
    for ki, item in enumerate(items):
        d = _as_dict(item)
        kpath = f"{path}.panels[{ki}]"
        cast: list[str] = []
        for ref in _as_list(d.get("characters")):
            cid = resolve_character(ref, characters)
            if cid is None:
                notes.append(f"{kpath}.characters: dropped unknown character {ref!r}")
            elif cid not in cast:
                if isinstance(ref, str) and ref != cid:
                    notes.append(f"{kpath}.characters: mapped {ref!r} to {cid!r}")
                cast.append(cid)
        lines = []
        for di, line in enumerate(_as_list(d.get("dialogue"))):
            ld = _as_dict(line)
            text = clip(ld.get("text"), LIMITS.line)
            ref = ld.get("speaker", ld.get("character"))
            if not text:
                notes.append(f"{kpath}.dialogue[{di}]: dropped a line with no text")
                continue
            cid = resolve_character(ref, characters)
            if cid is None:
                notes.append(f"{kpath}.dialogue[{di}]: dropped the line {text!r} of unknown speaker {ref!r}")
                continue
            if isinstance(ref, str) and ref != cid:
                notes.append(f"{kpath}.dialogue[{di}].character: mapped {ref!r} to {cid!r}")
            if cid not in cast:
                cast.append(cid)
            lines.append({"character": cid, "text": text})
        action = clip(d.get("action"), LIMITS.action)
        if not action:
            action = clip(page_summary, LIMITS.action) or "the scene continues"
            notes.append(f"{kpath}.action: empty; filled from the page summary")
        loc = clip(d.get("location"), LIMITS.location)
        if not loc:
            loc = location or "unspecified place"
            notes.append(f"{kpath}.location: empty; used {loc!r}")
        location = loc
        camera = _camera(d.get("camera"))
        if camera is None:
            camera = "medium shot"
            if d.get("camera"):
                notes.append(f"{kpath}.camera: {d.get('camera')!r} is not a known shot; used 'medium shot'")
        panels.append(
            {
                "characters": cast,
                "action": action,
                "location": loc,
                "mood": clip(d.get("mood"), LIMITS.mood),
                "camera": camera,
                "dialogue": lines,
                "narrative": clip(d.get("narrative"), LIMITS.narrative) or None,
                "sfx": clip(d.get("sfx"), LIMITS.sfx) or None,
            }
        )

    need = TEMPLATES[layout].panel_count
    if len(panels) != need:
        max_panels = max(TEMPLATES[t].panel_count for t in allowed_layouts)
        if not panels:
            notes.append(f"{path}.panels: no usable panels; added {need} from the page summary")
            panels = [
                {
                    "characters": [],
                    "action": clip(page_summary, LIMITS.action) or "the scene continues",
                    "location": last_location or "unspecified place",
                    "mood": "",
                    "camera": "medium shot",
                    "dialogue": [],
                    "narrative": None,
                    "sfx": None,
                }
                for _ in range(need)
            ]
        else:
            if len(panels) > max_panels:
                dropped = panels[max_panels:]
                notes.append(
                    f"{path}.panels: {len(panels)} panels is more than any layout holds; dropped the last "
                    f"{len(dropped)}"
                )
                panels = panels[:max_panels]
            new_layout = layout_for_count(len(panels), allowed_layouts)
            if new_layout and len(panels) != need:
                notes.append(
                    f"{path}.layout: {layout!r} needs {need} panels, the model gave {len(panels)}; switched to "
                    f"{new_layout!r}"
                )
                layout = new_layout
    return layout, panels, notes
