"""A small built-in plan for the editor notebook and tests (2 pages, 2 characters)."""

from __future__ import annotations

from storybench.plan.models import ComicPlan

__all__ = ["example_plan"]


def example_plan() -> ComicPlan:
    """A valid two-page noir plan: a ``grid-2x2`` page and a ``big-top`` page."""

    def panel(
        pid: str, pos: int, chars: list[str], action: str, camera: str, lines=(), narrative=None, sfx=None
    ) -> dict:
        return {
            "id": pid,
            "position": pos,
            "characters": chars,
            "action": action,
            "location": "rain-soaked alley, night",
            "mood": "tense",
            "camera": camera,
            "dialogue": [{"character": c, "text": t} for c, t in lines],
            "narrative": narrative,
            "sfx": sfx,
        }

    return ComicPlan.model_validate(
        {
            "id": "rain-on-podil",
            "title": "Rain on Podil",
            "style": "noir",
            "language": "en",
            "characters": [
                {
                    "id": "char-1",
                    "name": "Mara Voss",
                    "appearance": "tall woman in her 40s, grey streak in black hair",
                    "clothing": "long trench coat, fedora",
                    "role": "detective",
                },
                {
                    "id": "char-2",
                    "name": "Ilko",
                    "appearance": "skinny young man, nervous eyes, messy hair",
                    "clothing": "oversized leather jacket",
                    "role": "informant",
                },
            ],
            "chapters": [
                {
                    "id": "ch1",
                    "title": "The Tip",
                    "pages": [
                        {
                            "id": "ch1-p1",
                            "pageNumber": 1,
                            "layout": "grid-2x2",
                            "panels": [
                                panel(
                                    "ch1-p1-pan1",
                                    1,
                                    [],
                                    "rain pours over an empty alley lit by one lamp",
                                    "wide shot",
                                    narrative="Kyiv, 1947. The rain never stops.",
                                ),
                                panel(
                                    "ch1-p1-pan2",
                                    2,
                                    ["char-1"],
                                    "Mara lights a cigarette under the lamp",
                                    "medium shot",
                                ),
                                panel(
                                    "ch1-p1-pan3",
                                    3,
                                    ["char-2"],
                                    "Ilko runs out of the dark, breathless",
                                    "full shot",
                                    lines=[("char-2", "Detective! They found the body.")],
                                    sfx="SPLASH",
                                ),
                                panel(
                                    "ch1-p1-pan4",
                                    4,
                                    ["char-1", "char-2"],
                                    "Mara grabs Ilko by the collar",
                                    "close-up",
                                    lines=[("char-1", "Slow down. Whose body?"), ("char-2", "The clockmaker's.")],
                                ),
                            ],
                        },
                        {
                            "id": "ch1-p2",
                            "pageNumber": 2,
                            "layout": "big-top",
                            "panels": [
                                panel(
                                    "ch1-p2-pan1",
                                    1,
                                    ["char-1", "char-2"],
                                    "the two walk into a shop full of stopped clocks",
                                    "wide shot",
                                    narrative="Every clock had stopped at midnight.",
                                ),
                                panel(
                                    "ch1-p2-pan2",
                                    2,
                                    ["char-1"],
                                    "Mara kneels by a broken pocket watch",
                                    "close-up",
                                    lines=[("char-1", "Midnight. Again.")],
                                ),
                                panel(
                                    "ch1-p2-pan3",
                                    3,
                                    ["char-2"],
                                    "Ilko backs toward the door",
                                    "low angle",
                                    lines=[("char-2", "I'm not staying here.")],
                                ),
                            ],
                        },
                    ],
                }
            ],
        }
    )
