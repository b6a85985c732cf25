"""The one builder of plan dicts for tests (camelCase, valid unless changed).

:func:`build_plan` makes one chapter with one page per layout; each page has as many
panels as its layout holds (:func:`storybench.plan.layouts.panel_count`), each built
by a ``panel(page_number, position)`` function. :func:`plan_dict` is the default
shape (two characters talking); ``tests/engine_support.py`` builds its own shape
with the same builder.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from storybench.plan.layouts import panel_count

#: ``panel(page_number, position)`` -> the panel's fields except ``position``.
PanelFields = Callable[[int, int], dict[str, Any]]

CHARACTERS: list[dict[str, Any]] = [
    {
        "id": "char-1",
        "name": "Ann",
        "appearance": "tall woman, short grey hair",
        "clothing": "trench coat",
        "role": "detective",
    },
    {
        "id": "char-2",
        "name": "Bo",
        "appearance": "young man, curly hair",
        "clothing": "denim jacket",
        "role": "witness",
    },
]


def talking_panel(n: int, k: int) -> dict[str, Any]:
    """Panel ``k`` of page ``n`` of :func:`plan_dict`: Ann (with Bo on odd panels)
    on a rainy street, Ann speaking, a caption on panel 1 and an SFX on panel 2."""
    return {
        "id": f"p{n}-k{k}",
        "characters": ["char-1", "char-2"] if k % 2 else ["char-1"],
        "action": f"action {n}.{k}",
        "location": "a rainy street at night",
        "mood": "tense",
        "camera": "medium shot",
        "dialogue": [{"character": "char-1", "text": f"Line {n}.{k}"}],
        "narrative": "Later that night." if k == 1 else None,
        "sfx": "BANG!" if k == 2 else None,
    }


def build_plan(
    layouts: Sequence[str],
    *,
    panel: PanelFields,
    characters: list[dict[str, Any]],
    plan_id: str,
    title: str,
    style: str = "noir",
    language: str = "en",
) -> dict[str, Any]:
    """A plan dict: one chapter ``ch1``, page ``n`` (``page-<n>``) with layout ``layouts[n-1]``
    and its panels from ``panel(n, position)``."""
    pages = []
    for n, layout in enumerate(layouts, 1):
        panels = []
        for k in range(1, panel_count(layout) + 1):
            fields = panel(n, k)
            panels.append({"id": fields["id"], "position": k, **fields})
        pages.append({"id": f"page-{n}", "pageNumber": n, "layout": layout, "panels": panels})
    return {
        "id": plan_id,
        "title": title,
        "style": style,
        "language": language,
        "characters": copy.deepcopy(characters),
        "chapters": [{"id": "ch1", "title": "One", "pages": pages}],
    }


def plan_dict(
    layouts: tuple[str, ...] = ("grid-2x2",), *, style: str = "noir", language: str = "en", plan_id: str = "test-plan"
) -> dict[str, Any]:
    """A valid plan dict with one chapter and one page per layout, two characters talking."""
    return build_plan(
        layouts,
        panel=talking_panel,
        characters=CHARACTERS,
        plan_id=plan_id,
        title="Test plan",
        style=style,
        language=language,
    )


def changed(data: dict[str, Any], **edits: Any) -> dict[str, Any]:
    """A deep copy of ``data`` (edits apply to the top level)."""
    out = copy.deepcopy(data)
    out.update(edits)
    return out
