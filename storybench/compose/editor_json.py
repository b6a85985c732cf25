"""Editor JSON: a composed comic as an editor-ready document.

Each page carries its size, the panel rectangles in pixels with their image paths,
and every lettering item (balloon, caption, SFX) with its text, speaker, box, tail
point, font, size and rotation, so another editor can move and restyle lettering.
:func:`compose_editor_page` composes a page from the document alone: exporting,
re-importing and composing gives the same page images as the batch renderer.

The document's JSON Schema comes from :func:`editor_json_schema`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from storybench.compose.lettering import LetterItem
from storybench.compose.page import compose_from_items, page_lettering, page_rects
from storybench.config import RenderSettings
from storybench.files import atomic_write_text
from storybench.plan.layouts import Rect
from storybench.plan.models import ComicPlan
from storybench.plan.styles import get_style

__all__ = [
    "EDITOR_FORMAT",
    "EditorDocument",
    "EditorPage",
    "EditorPanel",
    "compose_editor_page",
    "editor_document",
    "editor_json_schema",
    "load_editor_json",
    "save_editor_json",
]

EDITOR_FORMAT = "storybench.editor"


class EditorPanel(BaseModel):
    """A panel on a page: its id, rectangle ``(x0, y0, x1, y1)`` in pixels and image path."""

    model_config = ConfigDict(frozen=True)

    panel_id: str
    position: int
    box: tuple[int, int, int, int]
    image: str = Field(description="image path, relative to the document's base folder when possible")


class EditorPage(BaseModel):
    """One page: number, size in pixels, panels and lettering items."""

    model_config = ConfigDict(frozen=True)

    page_number: int
    layout: str
    width: int
    height: int
    border: int
    panels: list[EditorPanel]
    lettering: list[LetterItem]


class EditorDocument(BaseModel):
    """An editor-ready comic: plan identity, style and pages."""

    model_config = ConfigDict(frozen=True)

    format: str = EDITOR_FORMAT
    version: int = 1
    plan_id: str
    title: str
    language: str
    style: str
    dpi: int
    pages: list[EditorPage]


def editor_document(
    plan: ComicPlan,
    settings: RenderSettings,
    panel_images: Mapping[str, str | os.PathLike[str]],
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> EditorDocument:
    """Build the Editor JSON document of ``plan`` (every page whose panels all have images).

    Args:
        plan: the plan.
        settings: page size, margins, gutters, border, reading direction.
        panel_images: panel id → image file.
        base_dir: image paths are written relative to this folder.

    Raises:
        KeyError: a page has a panel without an image (names it).
    """
    pages = []
    for _, page in plan.pages():
        rects = page_rects(plan, page, settings)
        panels = []
        for panel, rect in zip(sorted(page.panels, key=lambda p: p.position), rects, strict=False):
            if panel.id not in panel_images:
                raise KeyError(f"page {page.page_number}: no image for panel {panel.id}")
            path = Path(panel_images[panel.id])
            if base_dir is not None:
                with contextlib.suppress(ValueError):
                    path = path.resolve().relative_to(Path(base_dir).resolve())
            panels.append(EditorPanel(panel_id=panel.id, position=panel.position, box=rect.box, image=path.as_posix()))
        pages.append(
            EditorPage(
                page_number=page.page_number,
                layout=page.layout,
                width=settings.page_width,
                height=settings.page_height,
                border=settings.border,
                panels=panels,
                lettering=page_lettering(plan, page, settings),
            )
        )
    return EditorDocument(
        plan_id=plan.id, title=plan.title, language=plan.language, style=plan.style, dpi=settings.dpi, pages=pages
    )


def compose_editor_page(
    doc: EditorDocument, index: int, *, base_dir: str | os.PathLike[str] | None = None
) -> Image.Image:
    """Compose page ``index`` (0-based) of ``doc`` from its own geometry and lettering.

    Raises:
        IndexError: no such page.
        FileNotFoundError: a panel image is missing.
    """
    page = doc.pages[index]
    base = Path(base_dir) if base_dir is not None else Path(".")
    rects = [Rect(*p.box) for p in page.panels]
    images = [Path(p.image) if Path(p.image).is_absolute() else base / p.image for p in page.panels]
    return compose_from_items(
        (page.width, page.height), rects, images, page.lettering, get_style(doc.style), border=page.border
    )


def save_editor_json(doc: EditorDocument, path: str | os.PathLike[str]) -> Path:
    """Write ``doc`` as UTF-8 JSON, atomically."""
    return atomic_write_text(path, doc.model_dump_json(indent=2) + "\n")


def load_editor_json(path: str | os.PathLike[str]) -> EditorDocument:
    """Read an Editor JSON file.

    Raises:
        pydantic.ValidationError: the file does not match the schema (with the JSON path).
    """
    return EditorDocument.model_validate_json(Path(path).read_text(encoding="utf-8"))


def editor_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of an Editor JSON document."""
    schema = EditorDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
