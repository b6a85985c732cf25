"""Lettering, page composition and export (PNG, PDF, CBZ, Editor JSON)."""

from storybench.compose.export import comic_info_xml, export_cbz, export_pdf, save_page_png
from storybench.compose.fonts import covers, get_font, missing_chars
from storybench.compose.lettering import LetterItem, LetteringSpec, draw_items, fit_text, letter_panel, wrap_text
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
    "COMPOSER_VERSION", "compose_page", "compose_from_items", "cover_crop", "page_lettering", "page_rects", "page_rtl",
    "LetterItem", "LetteringSpec", "draw_items", "fit_text", "letter_panel", "wrap_text",
    "save_page_png", "export_pdf", "export_cbz", "comic_info_xml", "covers", "get_font", "missing_chars",
]
