"""Edits of a panel's content: its fields and its dialogue lines (see :mod:`storybench.plan.edits`)."""

from __future__ import annotations

from typing import Any

from storybench.plan.edits.base import Edited, EditRejected, run_edit
from storybench.plan.models import ComicPlan, Dialogue, PanelPlan
from storybench.plan.paths import PlanPath

__all__ = ["PANEL_FIELDS", "add_line", "add_lines", "move_line", "remove_line", "update_line", "update_panel"]

#: Panel fields :func:`update_panel` sets.
PANEL_FIELDS = ("action", "location", "mood", "camera", "narrative", "sfx", "characters", "seed")


def _panel(plan: ComicPlan, at: PlanPath) -> PanelPlan:
    return plan.chapters[at.chapter or 0].pages[at.page or 0].panels[at.panel or 0]


def _panel_fields(plan: ComicPlan, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` checked: known names, known character ids (deduplicated), blank caption/SFX as ``None``."""
    bad = set(fields) - set(PANEL_FIELDS)
    if bad:
        raise EditRejected(f"cannot edit {', '.join(sorted(bad))}; editable: {', '.join(PANEL_FIELDS)}")
    out = dict(fields)
    if "characters" in out:
        out["characters"] = _cast_ids(plan, out["characters"])
    for key in ("narrative", "sfx"):
        if key in out and not (out[key] or "").strip():
            out[key] = None
    return out


def _cast_ids(plan: ComicPlan, ids: list[str]) -> list[str]:
    """``ids`` without duplicates (first kept), all of them characters of ``plan``.

    Raises:
        EditRejected: an id names no character of the plan.
    """
    known = {c.id for c in plan.characters}
    unknown = [c for c in ids if c not in known]
    if unknown:
        raise EditRejected(f"unknown character(s) {', '.join(unknown)}")
    return list(dict.fromkeys(ids))


def update_panel(plan: ComicPlan, at: PlanPath, **fields: Any) -> Edited:
    """Set fields of the panel at ``at``: ``action``, ``location``, ``mood``, ``camera``,
    ``narrative``, ``sfx`` (``""`` or blanks clear the last two), ``characters`` (ids, duplicates dropped),
    ``seed`` (a picked candidate's sampler seed, ``None`` to derive it again).

    Raises:
        EditRejected: unknown field, unknown character id, value too long.
    """
    fields = _panel_fields(plan, fields)
    page = plan.chapters[at.chapter or 0].pages[at.page or 0]
    label = f"edit {', '.join(fields)} of page {page.page_number}, panel {_panel(plan, at).position}"

    def change(copy: ComicPlan) -> None:
        pan = _panel(copy, at)
        for k, v in fields.items():
            setattr(pan, k, v)

    edited, _ = run_edit(label, plan, change)
    return Edited(edited, label)


def _speaker(plan: ComicPlan, speaker: str) -> None:
    try:
        plan.character(speaker)
    except KeyError as exc:
        raise EditRejected(exc.args[0]) from None


def add_line(plan: ComicPlan, at: PlanPath, speaker: str | None = None, text: str = "") -> Edited:
    """Append a dialogue line to the panel at ``at``; the speaker defaults to the panel's
    first character (or the plan's first). ``at`` of the result names the new line.

    Raises:
        EditRejected: no characters in the plan, unknown speaker.
    """
    pan = _panel(plan, at)
    speaker = speaker or (pan.characters[0] if pan.characters else (plan.characters[0].id if plan.characters else None))
    if speaker is None:
        raise EditRejected("add a character before writing dialogue")
    _speaker(plan, speaker)
    edited, _ = run_edit(
        "add dialogue line",
        plan,
        lambda copy: setattr(
            _panel(copy, at), "dialogue", [*_panel(copy, at).dialogue, Dialogue(character=speaker, text=text)]
        ),
    )
    return Edited(
        edited,
        "add dialogue line",
        PlanPath.of_panel(at.chapter or 0, at.page or 0, at.panel or 0).dialogue(len(pan.dialogue)),
    )


def add_lines(plan: ComicPlan, at: PlanPath, lines: list[Dialogue], label: str) -> Edited:
    """Append ``lines`` to the panel at ``at``; their speakers join the panel's characters."""

    def change(copy: ComicPlan) -> None:
        pan = _panel(copy, at)
        pan.dialogue = [*pan.dialogue, *lines]
        pan.characters = list(dict.fromkeys([*pan.characters, *(d.character for d in lines)]))

    edited, _ = run_edit(label, plan, change)
    return Edited(edited, label)


def _line_index(plan: ComicPlan, at: PlanPath, index: int) -> None:
    pan = _panel(plan, at)
    if not 0 <= index < len(pan.dialogue):
        raise EditRejected(f"panel {pan.id!r} has no dialogue line {index}")


def update_line(
    plan: ComicPlan, at: PlanPath, index: int, *, speaker: str | None = None, text: str | None = None
) -> Edited:
    """Change the speaker and/or text of dialogue line ``index`` of the panel at ``at``.

    Raises:
        EditRejected: no such line, unknown speaker, text too long.
    """
    _line_index(plan, at, index)
    if speaker is not None:
        _speaker(plan, speaker)

    def change(copy: ComicPlan) -> None:
        line = _panel(copy, at).dialogue[index]
        if speaker is not None:
            line.character = speaker
        if text is not None:
            line.text = text

    edited, _ = run_edit("edit dialogue", plan, change)
    return Edited(edited, "edit dialogue")


def remove_line(plan: ComicPlan, at: PlanPath, index: int) -> Edited:
    """Delete dialogue line ``index`` of the panel at ``at``.

    Raises:
        EditRejected: no such line.
    """
    _line_index(plan, at, index)

    def change(copy: ComicPlan) -> None:
        pan = _panel(copy, at)
        pan.dialogue = [d for i, d in enumerate(pan.dialogue) if i != index]

    edited, _ = run_edit("remove dialogue line", plan, change)
    return Edited(edited, "remove dialogue line")


def move_line(plan: ComicPlan, at: PlanPath, index: int, delta: int) -> Edited:
    """Move dialogue line ``index`` ``delta`` places (balloon reading order).

    Raises:
        EditRejected: no such line, or nowhere to move.
    """
    _line_index(plan, at, index)
    target = index + delta
    if delta == 0 or not 0 <= target < len(_panel(plan, at).dialogue):
        raise EditRejected("the line cannot move further")

    def change(copy: ComicPlan) -> None:
        pan = _panel(copy, at)
        lines = list(pan.dialogue)
        lines.insert(target, lines.pop(index))
        pan.dialogue = lines

    edited, _ = run_edit("move dialogue line", plan, change)
    return Edited(edited, "move dialogue line")
