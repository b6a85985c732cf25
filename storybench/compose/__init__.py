"""Lettering, page composition and export (PNG, PDF, CBZ, Editor JSON)."""

from storybench.compose.capacity import LetteringWarning, lettering_warnings, page_warnings
from storybench.compose.export import comic_info_xml, export_cbz, export_pdf, save_page_png
from storybench.compose.lettering import (
    LetteringSpec,
    LetterItem,
    PanelLettering,
    draw_items,
    fit_text,
    layout_panel,
    letter_panel,
    wrap_text,
)
from storybench.compose.page import (
    COMPOSER_VERSION,
    compose_from_items,
    compose_page,
    cover_crop,
    page_lettering,
    page_lettering_layout,
    page_rects,
    page_rtl,
)
from storybench.fonts import covers, get_font, missing_chars

__all__ = [
    "COMPOSER_VERSION",
    "LetterItem",
    "LetteringSpec",
    "LetteringWarning",
    "PanelLettering",
    "comic_info_xml",
    "compose_from_items",
    "compose_page",
    "cover_crop",
    "covers",
    "draw_items",
    "export_cbz",
    "export_pdf",
    "fit_text",
    "get_font",
    "layout_panel",
    "letter_panel",
    "lettering_warnings",
    "missing_chars",
    "page_lettering",
    "page_lettering_layout",
    "page_rects",
    "page_rtl",
    "page_warnings",
    "save_page_png",
    "wrap_text",
]
