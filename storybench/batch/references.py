"""Character reference sheets for reference-capable backends.

Before the panels of a run, a backend whose ``supports_reference_images`` is true
gets one character sheet job per character in those panels; each panel then
carries the sheet of its first cast member as a reference image.
"""

from __future__ import annotations

from storybench.config import RenderSettings
from storybench.plan.models import Character, ComicPlan
from storybench.plan.styles import get_style
from storybench.render.spec import CastMember, RenderSpec

__all__ = ["SHEET_SIZE", "character_sheet_spec"]

#: Width and height of a character sheet, pixels.
SHEET_SIZE = 1024


def _clause(text: str | None) -> str:
    return (text or "").strip().rstrip(".,; ")


def character_sheet_spec(plan: ComicPlan, character: Character, settings: RenderSettings) -> RenderSpec:
    """The render spec of ``character``'s reference sheet.

    Prompt: ``"character reference sheet, <style prefix>, <name>: <appearance>,
    wearing <clothing>, front and side views, neutral background"`` (the clothing
    clause is left out when the character has none); negative prompt: the style's;
    seed: the character's seed; 1024 x 1024 pixels; params: the settings'
    ``render_params`` plus ``{"kind": "character_sheet"}``.

    Raises:
        KeyError: the plan's style is unknown.
    """
    style = get_style(plan.style)
    who = f"{character.name}: {_clause(character.appearance)}"
    if character.clothing:
        who += f", wearing {_clause(character.clothing)}"
    prompt = ", ".join(
        p
        for p in ("character reference sheet", style.prompt_prefix, who, "front and side views", "neutral background")
        if p
    )
    member = CastMember(
        id=character.id,
        name=character.name,
        appearance=character.appearance,
        clothing=character.clothing,
        seed=character.seed or 0,
    )
    return RenderSpec(
        prompt=prompt,
        negative_prompt=style.negative_prompt,
        seed=character.seed or 0,
        width=SHEET_SIZE,
        height=SHEET_SIZE,
        style=plan.style,
        panel_id="",
        action="character reference sheet, front and side views",
        cast=(member,),
        params={**settings.render_params, "kind": "character_sheet"},
    )
