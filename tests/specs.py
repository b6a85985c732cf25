"""The one builder of render specs for tests: ``make_spec(i, **fields)``.

A test module binds its own defaults once (``spec = partial(make_spec, seed_base=7, width=96)``),
so every module builds specs the same way: panel ``i`` gets the prompt ``"panel i"``, the seed
``seed_base + i`` and the id ``"p<i>"``, unless a field is given.
"""

from __future__ import annotations

from typing import Any

from storybench.render.spec import RenderSpec


def make_spec(i: int = 0, *, seed_base: int = 0, prompt: str = "panel {i}", **fields: Any) -> RenderSpec:
    """Panel ``i``'s render spec: 128 x 96 px by default; ``prompt`` may name ``{i}``."""
    base: dict[str, Any] = {
        "prompt": prompt.format(i=i),
        "seed": seed_base + i,
        "width": 128,
        "height": 96,
        "panel_id": f"p{i}",
    }
    base.update(fields)
    return RenderSpec(**base)
