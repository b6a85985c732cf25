"""Lettering, page composition and export (PNG, PDF, CBZ, Editor JSON)."""

from storybench.compose.export import comic_info_xml, export_cbz, export_pdf, save_page_png
from storybench.compose.fonts import covers, get_font, missing_chars
from storybench.compose.lettering import LetteringSpec, LetterItem, draw_items, fit_text, letter_panel, wrap_text
from storybench.compose.page import (
    COMPOSER_VERSION,
    compose_from_items,
    compose_page,
    cover_crop,
    page_lettering,
    page_rects,
    page_rtl,
)

__all__ = [
    "COMPOSER_VERSION",
    "LetterItem",
    "LetteringSpec",
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
    "letter_panel",
    "missing_chars",
    "page_lettering",
    "page_rects",
    "page_rtl",
    "save_page_png",
    "wrap_text",
]
