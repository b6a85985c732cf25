"""The ground of every edit: the result type, the refusal, the copy-and-renumber runner, fresh ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import ValidationError

from storybench.exceptions import StorybenchError
from storybench.plan.models import ComicPlan, PanelPlan
from storybench.plan.paths import PlanPath

__all__ = ["PLACEHOLDER_ACTION", "EditRejected", "Edited", "fresh_ids", "has_text", "new_panel", "renumber", "run_edit"]

#: Action text of panels an edit adds; valid, and obviously to be replaced.
PLACEHOLDER_ACTION = "(new panel: describe what happens)"


class EditRejected(StorybenchError, ValueError):
    """An edit was refused (a value breaks the schema, or the edit would break the page);
    the plan is unchanged."""


class Edited(NamedTuple):
    """The result of an edit.

    Attributes:
        plan: the edited plan (a new object).
        note: what was done, in words, for a status line and the undo history.
        at: the place to select afterwards (chapter/page/panel or character), or ``None``.
    """

    plan: ComicPlan
    note: str
    at: PlanPath | None = None


def run_edit(label: str, plan: ComicPlan, change: Callable[[ComicPlan], Any]) -> tuple[ComicPlan, Any]:
    """Apply ``change`` to a deep copy of ``plan``, renumber it and return ``(copy, change's result)``.

    Raises:
        EditRejected: ``change`` raised a schema error, ``KeyError`` or ``ValueError``
            (the message starts with ``label``).
    """
    copy = plan.model_copy(deep=True)
    try:
        out = change(copy)
    except EditRejected:
        raise
    except ValidationError as exc:
        raise EditRejected(f"{label}: {exc.errors(include_url=False)[0]['msg']}") from None
    except (KeyError, ValueError) as exc:
        raise EditRejected(f"{label}: {exc.args[0] if exc.args else exc}") from None
    renumber(copy)
    return copy, out


def renumber(plan: ComicPlan) -> None:
    """Number pages 1, 2, 3... across chapters and panels 1..n on each page (in place)."""
    n = 0
    for ch in plan.chapters:
        for pg in ch.pages:
            n += 1
            if pg.page_number != n:
                pg.page_number = n
            for k, pan in enumerate(pg.panels, start=1):
                if pan.position != k:
                    pan.position = k


def fresh_ids(plan: ComicPlan, prefix: str, count: int = 1) -> list[str]:
    """``count`` ids ``<prefix><n>`` not used anywhere in ``plan`` (lowest ``n`` first)."""
    taken = {plan.id} | {c.id for c in plan.characters}
    for ch in plan.chapters:
        taken.add(ch.id)
        for pg in ch.pages:
            taken.add(pg.id)
            taken.update(p.id for p in pg.panels)
    out: list[str] = []
    n = 1
    while len(out) < count:
        if f"{prefix}{n}" not in taken:
            out.append(f"{prefix}{n}")
        n += 1
    return out


def new_panel(plan: ComicPlan, page_id: str, location: str = "") -> PanelPlan:
    """A placeholder panel with a fresh id on page ``page_id``."""
    return PanelPlan(id=fresh_ids(plan, f"{page_id}-pan")[0], position=1, action=PLACEHOLDER_ACTION, location=location)


def has_text(panel: PanelPlan) -> bool:
    """The panel holds something a writer wrote (dialogue, caption, SFX or a real action)."""
    return bool(panel.dialogue or panel.narrative or panel.sfx or (panel.action and panel.action != PLACEHOLDER_ACTION))
