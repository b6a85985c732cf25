"""What the comic and the story EPUB share: accessibility metadata, the author, the writer.

* **Accessibility metadata** (EPUB Accessibility 1.1 §5.1, "Discoverability"; the
  schema.org properties DAISY Ace checks): ``schema:accessMode``,
  ``schema:accessModeSufficient``, ``schema:accessibilityFeature``,
  ``schema:accessibilityHazard`` and ``schema:accessibilitySummary``, written as
  ``<meta property="schema:...">`` (``schema:`` is a reserved prefix in EPUB 3, no
  declaration needed).
* **The author** (``dc:creator``) only when one is known: no placeholder name.
* **The writer**: ebooklib's, with ``xml:lang`` (the book's language) set on the
  ``<package>`` element, which ebooklib leaves out (EPUB 3.3 §5.4.1.1 ``xml:lang`` on
  ``package`` gives the language of the package document's text).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ebooklib import epub

from storybench.compose.comicinfo import clean_xml_text

__all__ = ["Accessibility", "add_accessibility", "add_creator", "epub_bytes"]

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Accessibility:
    """An EPUB's accessibility metadata (schema.org values, see the module docstring).

    Attributes:
        access_modes: ``schema:accessMode`` values, e.g. ``("visual", "textual")``.
        sufficient: ``schema:accessModeSufficient`` values, each a comma-separated set
            of modes that suffices on its own, e.g. ``("textual", "visual")``.
        features: ``schema:accessibilityFeature`` values, e.g. ``("alternativeText",)``.
        hazards: ``schema:accessibilityHazard`` values (``"none"``: no flashing, motion
            simulation or sound hazard).
        summary: ``schema:accessibilitySummary``, a sentence in the book's language.
    """

    access_modes: tuple[str, ...]
    sufficient: tuple[str, ...]
    features: tuple[str, ...]
    summary: str
    hazards: tuple[str, ...] = ("none",)


def add_accessibility(book: Any, a11y: Accessibility) -> None:
    """Add ``a11y`` to an ebooklib ``EpubBook`` as ``<meta property="schema:...">`` elements."""
    rows = [
        *(("schema:accessMode", v) for v in a11y.access_modes),
        *(("schema:accessModeSufficient", v) for v in a11y.sufficient),
        *(("schema:accessibilityFeature", v) for v in a11y.features),
        *(("schema:accessibilityHazard", v) for v in a11y.hazards),
        ("schema:accessibilitySummary", clean_xml_text(a11y.summary)),
    ]
    for prop, value in rows:
        book.add_metadata(None, "meta", value, {"property": prop})


def add_creator(book: Any, author: str) -> None:
    """``dc:creator`` of ``book`` when ``author`` (cleaned of control characters) is not empty."""
    name = clean_xml_text(author).strip()
    if name:
        book.add_author(name)


class _Writer(epub.EpubWriter):
    """ebooklib's writer, with ``xml:lang`` on ``<package>``."""

    def _write_opf_file(self, root: Any) -> None:
        if self.book.language:
            root.set(_XML_LANG, self.book.language)
        super()._write_opf_file(root)


def epub_bytes(book: Any) -> bytes:
    """The EPUB file of an ebooklib ``EpubBook``, with ``xml:lang`` on ``<package>``.

    Raises:
        OSError: ebooklib could not write the archive.
    """
    out = io.BytesIO()
    writer = _Writer(out, book, {"raise_exceptions": True})
    writer.process()
    writer.write()
    return out.getvalue()
