"""EPUB 3 export of a played story, built with ebooklib.

Two shapes (``mode``):

* ``"path"``: the path the reader took, opening to the current segment, as
  consecutive chapters (each headed by the choice that led to it);
* ``"tree"``: every segment as its own section, the choices as links to the sections
  that continue them, untaken choices marked "not written yet", and regenerated
  versions linked to each other ("other version"), like the Twee export.

The book carries title, language (``dc:language``, ``xml:lang`` of ``<package>`` and
of every page), author (``dc:creator``, left out when unknown), the IFID as
``urn:uuid:`` identifier, the schema.org accessibility metadata, and a cover: the
first illustration of the exported segments, or a title card when there is none. The
illustrations are packaged as images, their illustration prompts as alt text. Text is
HTML-escaped; nothing of it is markup. The added words ("← back", "other version",
"not written yet") are in the story's language (:mod:`storybench.story.export_words`);
text colours keep a contrast of at least 4.5:1 (WCAG 2.1 SC 1.4.3).
"""

from __future__ import annotations

import html
import io
import mimetypes
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from ebooklib import epub

from storybench.compose.comicinfo import clean_xml_text
from storybench.compose.cover import title_card
from storybench.compose.epub_package import Accessibility, add_accessibility, add_creator, epub_bytes
from storybench.files import atomic_write_bytes
from storybench.story.export_words import ExportWords, export_words
from storybench.story.model import Segment, Story

__all__ = ["export_story_epub", "story_epub_bytes"]

EpubMode = Literal["path", "tree"]

# text colours at least 4.5:1 against the white page (WCAG 2.1 SC 1.4.3): #555555 7.5:1, #595959 7.0:1
_CSS = (
    "body{font-family:serif;line-height:1.5;margin:0 5%}"
    "img{max-width:100%;height:auto}"
    ".sb-took{font-style:italic;color:#555555}"
    ".sb-untaken{color:#595959}"
)

_SUMMARY = {
    "en": "An illustrated branching story. Every illustration has a text alternative; the choices are links.",
    "uk": "Ілюстрована розгалужена історія. Кожна ілюстрація має текстову альтернативу; вибори — це посилання.",
}


def _file(seg: Segment) -> str:
    return f"seg-{seg.id}.xhtml"


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _esc(text: str) -> str:
    return html.escape(clean_xml_text(text))


def _image_bytes(seg: Segment, story_dir: Path | None) -> bytes | None:
    if story_dir is None or not seg.image_path or seg.image_status != "done":
        return None
    try:
        return (story_dir / seg.image_path).read_bytes()
    except OSError:
        return None


def _segments(story: Story, mode: str) -> list[Segment]:
    """The exported segments in book order.

    Raises:
        ValueError: unknown mode, or a story without segments.
    """
    if mode not in ("path", "tree"):
        raise ValueError(f"mode: {mode!r} not one of path, tree")
    if story.start_id() is None:
        raise ValueError(f"story {story.id}: nothing to export (no segments)")
    if mode == "tree":
        return [seg for _, seg in story.walk()]
    return story.path() if story.current_id else story.path(story.start_id())


@dataclass
class _Book:
    """The book being built: the ebooklib book, the segments in it and their images."""

    story: Story
    mode: str
    segments: list[Segment]
    words: ExportWords
    book: Any = field(default_factory=epub.EpubBook)
    images: dict[str, str] = field(default_factory=dict)

    @cached_property
    def in_book(self) -> set[str]:
        """The ids of the exported segments."""
        return {seg.id for seg in self.segments}

    def metadata(self, author: str) -> None:
        """Identifier, title, language, author, description and accessibility."""
        story, book = self.story, self.book
        lang = story.settings.language
        book.set_identifier(f"urn:uuid:{story.ifid.lower()}")
        book.set_title(clean_xml_text(story.title))
        book.set_language(lang)
        add_creator(book, author)
        book.add_metadata("DC", "description", clean_xml_text(story.settings.premise))
        summary = _SUMMARY.get(lang.split("-", 1)[0].lower(), _SUMMARY["en"])
        add_accessibility(
            book,
            Accessibility(
                access_modes=("textual", "visual") if self.images else ("textual",),
                sufficient=("textual",),
                features=("alternativeText", "readingOrder", "structuralNavigation", "tableOfContents"),
                summary=summary,
            ),
        )

    def add_images(self, story_dir: Path | None) -> None:
        """Package the segments' illustrations; the cover is the first, else a title card."""
        cover_data: bytes | None = None
        for seg in self.segments:
            data = _image_bytes(seg, story_dir)
            if data is None:
                continue
            name = f"images/{seg.id}{Path(seg.image_path).suffix.lower() or '.png'}"
            mime = mimetypes.guess_type(name)[0] or "image/png"
            self.book.add_item(epub.EpubImage(uid=f"img-{seg.id}", file_name=name, media_type=mime, content=data))
            self.images[seg.id] = name
            cover_data = cover_data or data
        if cover_data is None:
            buf = io.BytesIO()
            s = self.story.settings
            title_card(self.story.title, s.premise[:160], style_id=s.style).save(buf, "PNG")
            cover_data = buf.getvalue()
        self.book.set_cover("cover.png", cover_data, create_page=True)

    def choices(self, seg: Segment) -> list[str]:
        """The choice list of a tree-mode section: links to written continuations, marks on the rest."""
        items = []
        for i, choice in enumerate(seg.choices):
            child = self.story.shown_child(seg.id, i)
            if child is not None and child.id in self.in_book:
                items.append(f'<li><a href="{_file(child)}">{_esc(choice)}</a></li>')
            else:
                items.append(f'<li class="sb-untaken">{_esc(choice)} — {_esc(self.words.not_written)}</li>')
        return ["<ol>", *items, "</ol>"] if items else []

    def navigation(self, seg: Segment) -> list[str]:
        """Links to the other versions of ``seg`` and back to its parent (tree mode)."""
        story, words, in_book = self.story, self.words, self.in_book
        versions = story.roots() if seg.parent_id is None else story.children_for(seg.parent_id, seg.choice_index or 0)
        links = [
            f'<a href="{_file(v)}">{_esc(words.version_link(k, len(versions)))}</a>'
            for k, v in enumerate(versions, 1)
            if v is not seg and v.id in in_book
        ]
        body = [f"<p>{' · '.join(links)}</p>"] if links else []
        if seg.parent_id and seg.parent_id in in_book:
            body.append(f'<p><a href="{_file(story.segment(seg.parent_id))}">{_esc(words.back)}</a></p>')
        return body

    def section(self, n: int, seg: Segment, css: Any) -> Any:
        """The XHTML document of the ``n``-th segment."""
        heading = seg.choice_text or self.story.title
        body = [f"<h2>{_esc(heading)}</h2>"]
        if seg.id in self.images:
            body.append(f'<p><img src="{self.images[seg.id]}" alt="{_esc(seg.illustration_prompt)}"/></p>')
        body.extend(f"<p>{_esc(p)}</p>" for p in _paragraphs(seg.text))
        if self.mode == "tree":
            body.extend(self.choices(seg))
            body.extend(self.navigation(seg))
        lang = self.story.settings.language
        chapter = epub.EpubHtml(title=clean_xml_text(f"{n}. {heading}"[:120]), file_name=_file(seg), lang=lang)
        chapter.content = f"<html><body>{''.join(body)}</body></html>"
        chapter.add_item(css)
        return chapter


def story_epub_bytes(
    story: Story,
    *,
    story_dir: str | os.PathLike[str] | None = None,
    mode: EpubMode | str = "tree",
    author: str = "",
) -> bytes:
    """The story as an EPUB 3 file's bytes.

    Args:
        story: the story.
        story_dir: its folder, where illustrations are read from (none when ``None``).
        mode: ``"path"`` or ``"tree"`` (see the module docstring).
        author: the book's author (``dc:creator``); ``""``: none written.

    Raises:
        ValueError: unknown mode, or a story without segments.
    """
    built = _Book(story, mode, _segments(story, mode), export_words(story.settings.language))
    built.add_images(Path(story_dir) if story_dir is not None else None)
    built.metadata(author)
    css = epub.EpubItem(uid="style", file_name="style.css", media_type="text/css", content=_CSS.encode())
    built.book.add_item(css)
    chapters = [built.section(n, seg, css) for n, seg in enumerate(built.segments, 1)]
    for chapter in chapters:
        built.book.add_item(chapter)
    built.book.toc = chapters
    built.book.add_item(epub.EpubNcx())
    built.book.add_item(epub.EpubNav())
    built.book.spine = ["cover", "nav", *chapters]
    return epub_bytes(built.book)


def export_story_epub(
    story: Story,
    path: str | os.PathLike[str],
    *,
    story_dir: str | os.PathLike[str] | None = None,
    mode: EpubMode | str = "tree",
    author: str = "",
) -> Path:
    """Write :func:`story_epub_bytes` to ``path`` atomically.

    Returns:
        The path written.

    Raises:
        ValueError: see :func:`story_epub_bytes`.
    """
    return atomic_write_bytes(path, story_epub_bytes(story, story_dir=story_dir, mode=mode, author=author))
