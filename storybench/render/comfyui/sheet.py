"""Character sheets: a grid of poses and expressions of one character, composed into one image.

The backend renders ``grid x grid`` cells (2, 3 or 4; default 2) from one character
spec: the same prompt plus a pose/expression variation, seeds ``seed, seed+1, ...``
(one seed family), each cell ``width/grid x height/grid`` pixels (multiples of 8);
:func:`compose_grid` pastes them into one sheet of the spec's size.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image

from storybench.exceptions import ConfigError
from storybench.render.spec import RenderSpec

__all__ = ["VARIATIONS", "cell_specs", "compose_grid", "sheet_grid"]

VARIATIONS: tuple[str, ...] = (
    "front view, full body, neutral expression",
    "three-quarter view, smiling",
    "side profile, serious expression",
    "back view, full body",
    "close-up portrait, surprised expression",
    "walking pose, full body",
    "close-up portrait, angry expression",
    "sitting pose, relaxed",
    "close-up portrait, sad expression",
    "running pose, dynamic",
    "three-quarter view, laughing",
    "arms crossed, confident",
    "looking over the shoulder",
    "close-up portrait, thoughtful expression",
    "hands on hips, determined",
    "waving, cheerful",
)


def sheet_grid(spec: RenderSpec) -> int:
    """The grid size asked by ``spec.params["grid"]`` (2, 3 or 4; default 2).

    Raises:
        ConfigError: another value.
    """
    grid = spec.params.get("grid", 2)
    if grid not in (2, 3, 4):
        raise ConfigError(f"params.grid: {grid!r}; a character sheet grid is 2, 3 or 4 cells a side")
    return int(grid)


def cell_specs(spec: RenderSpec, grid: int) -> list[RenderSpec]:
    """The ``grid * grid`` cell specs of a character sheet spec (row-major order)."""
    cw = max(64, (spec.width // grid) // 8 * 8)
    ch = max(64, (spec.height // grid) // 8 * 8)
    params = {k: v for k, v in spec.params.items() if k not in ("kind", "grid")}
    cells = []
    for i in range(grid * grid):
        variation = VARIATIONS[i % len(VARIATIONS)]
        cells.append(
            spec.model_copy(
                update={
                    "prompt": f"{spec.prompt}, {variation}" if spec.prompt else variation,
                    "seed": (spec.seed + i) % 2**31,
                    "width": cw,
                    "height": ch,
                    "params": params,
                    "panel_id": f"{spec.panel_id}_cell{i}" if spec.panel_id else f"cell{i}",
                }
            )
        )
    return cells


def compose_grid(cells: Sequence[bytes], grid: int, width: int, height: int) -> bytes:
    """Paste ``grid * grid`` encoded cell images row-major into one ``width x height`` PNG.

    Each cell is fitted (resized) into its ``width/grid x height/grid`` rectangle.
    """
    sheet = Image.new("RGB", (width, height), "white")
    for i, data in enumerate(cells):
        row, col = divmod(i, grid)
        x0, x1 = col * width // grid, (col + 1) * width // grid
        y0, y1 = row * height // grid, (row + 1) * height // grid
        with Image.open(io.BytesIO(data)) as cell:
            sheet.paste(cell.convert("RGB").resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()
