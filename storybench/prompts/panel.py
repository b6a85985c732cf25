"""Panel prompt assembly: from a plan's panel to the render spec every backend gets.

Positive prompt = style prefix, camera, action, location, mood, then each present
character's name, appearance and clothing. Negative prompt = the style's. The seed
is derived from the seeds of the characters in the shot (sorted, so order does not
matter): the same cast gets the same seed and the same plan always asks a backend
for the same images. A panel with nobody in it gets a seed derived from the plan
id and its location.
"""

from __future__ import annotations

from typing import Any

from storybench.plan.models import ComicPlan, PanelPlan, derive_seed
from storybench.plan.styles import get_style
from storybench.render.spec import CastMember, RenderSpec

__all__ = ["panel_prompt", "panel_render_spec", "panel_seed", "render_size"]


def _clause(text: str | None) -> str:
    return (text or "").strip().rstrip(".,; ")


def panel_prompt(plan: ComicPlan, panel: PanelPlan) -> tuple[str, str]:
    """``(positive, negative)`` prompts for a panel.

    Raises:
        KeyError: the plan's style or a panel character is unknown.
    """
    style = get_style(plan.style)
    parts = [style.prompt_prefix, _clause(panel.camera), _clause(panel.action), _clause(panel.location)]
    if panel.mood:
        parts.append(f"{_clause(panel.mood)} mood")
    for char_id in panel.characters:
        c = plan.character(char_id)
        desc = f"{c.name}: {_clause(c.appearance)}"
        if c.clothing:
            desc += f", wearing {_clause(c.clothing)}"
        parts.append(desc)
    positive = ", ".join(p for p in parts if p)
    return positive, style.negative_prompt


def panel_seed(plan: ComicPlan, panel: PanelPlan) -> int:
    """Seed for a panel: the picked candidate's (``panel.seed``) when set, else derived from
    the sorted seeds of its characters (see module doc)."""
    if panel.seed is not None:
        return panel.seed
    seeds = sorted(str(plan.character(cid).seed) for cid in set(panel.characters))
    if seeds:
        return derive_seed("cast", *seeds)
    return derive_seed("scene", plan.id, panel.location or panel.id)


def render_size(width: float, height: float, max_side: int = 1024, multiple: int = 8) -> tuple[int, int]:
    """Render size for a panel rectangle: same aspect ratio, longer side ``max_side``
    pixels, both sides rounded to ``multiple`` (diffusion models need multiples of 8)."""
    scale = max_side / max(width, height)
    w = max(multiple, round(width * scale / multiple) * multiple)
    h = max(multiple, round(height * scale / multiple) * multiple)
    return int(w), int(h)


def panel_render_spec(
    plan: ComicPlan,
    panel: PanelPlan,
    width: int,
    height: int,
    params: dict[str, Any] | None = None,
) -> RenderSpec:
    """The :class:`RenderSpec` for one panel at ``width`` x ``height`` pixels.

    Args:
        plan: a valid plan.
        panel: one of its panels.
        width, height: render size in pixels (see :func:`render_size`).
        params: backend render parameters (steps, cfg, workflow...), kept in the spec and its cache key.

    Raises:
        KeyError: unknown style or character.
    """
    positive, negative = panel_prompt(plan, panel)
    speakers = {d.character for d in panel.dialogue}
    cast = tuple(
        CastMember(
            id=c.id,
            name=c.name,
            appearance=c.appearance,
            clothing=c.clothing,
            seed=c.seed or 0,
            speaks=c.id in speakers,
        )
        for c in (plan.character(cid) for cid in panel.characters)
    )
    return RenderSpec(
        prompt=positive,
        negative_prompt=negative,
        seed=panel_seed(plan, panel),
        width=width,
        height=height,
        style=plan.style,
        panel_id=panel.id,
        camera=panel.camera,
        action=panel.action,
        location=panel.location,
        mood=panel.mood,
        cast=cast,
        params=dict(params or {}),
    )
