"""Builds small plan dicts for tests (camelCase, valid unless changed)."""

from __future__ import annotations

import copy
from typing import Any

from storybench.plan.layouts import TEMPLATES


def plan_dict(
    layouts: tuple[str, ...] = ("grid-2x2",), *, style: str = "noir", language: str = "en", plan_id: str = "test-plan"
) -> dict[str, Any]:
    """A valid plan dict with one chapter and one page per layout, two characters talking."""
    pages = []
    for n, layout in enumerate(layouts, 1):
        panels = []
        for k in range(1, TEMPLATES[layout].panel_count + 1):
            panels.append(
                {
                    "id": f"p{n}-k{k}",
                    "position": k,
                    "characters": ["char-1", "char-2"] if k % 2 else ["char-1"],
                    "action": f"action {n}.{k}",
                    "location": "a rainy street at night",
                    "mood": "tense",
                    "camera": "medium shot",
                    "dialogue": [{"character": "char-1", "text": f"Line {n}.{k}"}],
                    "narrative": "Later that night." if k == 1 else None,
                    "sfx": "BANG!" if k == 2 else None,
                }
            )
        pages.append({"id": f"page-{n}", "pageNumber": n, "layout": layout, "panels": panels})
    return {
        "id": plan_id,
        "title": "Test plan",
        "style": style,
        "language": language,
        "characters": [
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
        ],
        "chapters": [{"id": "ch1", "title": "One", "pages": pages}],
    }


def changed(data: dict[str, Any], **edits: Any) -> dict[str, Any]:
    """A deep copy of ``data`` (edits apply to the top level)."""
    out = copy.deepcopy(data)
    out.update(edits)
    return out
