"""EPUB 3 export of a played story, built with ebooklib.

Two shapes (``mode``):

* ``"path"``: the path the reader took, opening to the current segment, as
  consecutive chapters (each headed by the choice that led to it);
* ``"tree"``: every segment as its own section, the choices as links to the sections
  that continue them, untaken choices marked "not written yet", and regenerated
  versions linked to each other ("other version"), like the Twee export.

The book carries title, language (``dc:language`` and ``xml:lang`` of every page),
author (``dc:creator``), the IFID as ``urn:uuid:`` identifier and a cover: the first
illustration of the exported segments, or a title card when there is none. The
illustrations are packaged as images. Text is HTML-escaped; nothing of it is markup.
"""

from __future__ import annotations

import html
import io
import mimetypes
import os
import re
from pathlib import Path
from typing import Literal

from storybench.compose.comicinfo import clean_xml_text
from storybench.compose.cover import title_card
from storybench.files import atomic_write_bytes
from storybench.story.model import Segment, Story
from storybench.story.twee import PLACEHOLDER_TEXT

__all__ = ["export_story_epub", "story_epub_bytes"]

EpubMode = Literal["path", "tree"]

_CSS = (
    "body{font-family:serif;line-height:1.5;margin:0 5%}"
    "img{max-width:100%;height:auto}"
    ".sb-took{font-style:italic;color:#555}"
    ".sb-untaken{color:#888}"
)


def _ebooklib():
    try:
        from ebooklib import epub
    except ImportError as exc:  # pragma: no cover - ebooklib is a core dependency
        raise ImportError("the EPUB export needs ebooklib: pip install ebooklib") from exc
    return epub


def _file(seg: Segment) -> str:
    return f"seg-{seg.id}.xhtml"


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _image_bytes(seg: Segment, story_dir: Path | None) -> bytes | None:
    if story_dir is None or not seg.image_path or seg.image_status != "done":
        return None
    try:
        return (story_dir / seg.image_path).read_bytes()
    except OSError:
        return None


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
        author: the book's author (default ``"storybench"``).

    Raises:
        ValueError: unknown mode, or a story without segments.
    """
    if mode not in ("path", "tree"):
        raise ValueError(f"mode: {mode!r} not one of path, tree")
    if story.start_id() is None:
        raise ValueError(f"story {story.id}: nothing to export (no segments)")
    epub = _ebooklib()
    base = Path(story_dir) if story_dir is not None else None
    lang = story.settings.language
    segments = story.path() if mode == "path" and story.current_id else [seg for _, seg in story.walk()]
    if mode == "path" and not story.current_id:
        segments = story.path(story.start_id())
    in_book = {seg.id for seg in segments}

    book = epub.EpubBook()
    book.set_identifier(f"urn:uuid:{story.ifid.lower()}")
    book.set_title(clean_xml_text(story.title))
    book.set_language(lang)
    book.add_author(clean_xml_text(author) or "storybench")
    book.add_metadata("DC", "description", clean_xml_text(story.settings.premise))

    images: dict[str, str] = {}
    cover_data: bytes | None = None
    for seg in segments:
        data = _image_bytes(seg, base)
        if data is None:
            continue
        ext = Path(seg.image_path).suffix.lower() or ".png"
        name = f"images/{seg.id}{ext}"
        book.add_item(
            epub.EpubImage(
                uid=f"img-{seg.id}",
                file_name=name,
                media_type=mimetypes.guess_type(name)[0] or "image/png",
                content=data,
            )
        )
        images[seg.id] = name
        cover_data = cover_data or data
    if cover_data is None:
        buf = io.BytesIO()
        title_card(story.title, story.settings.premise[:160], style_id=story.settings.style).save(buf, "PNG")
        cover_data = buf.getvalue()
    book.set_cover("cover.png", cover_data, create_page=True)
    css = epub.EpubItem(uid="style", file_name="style.css", media_type="text/css", content=_CSS.encode())
    book.add_item(css)

    def esc(text: str) -> str:
        return html.escape(clean_xml_text(text))

    chapters = []
    for n, seg in enumerate(segments, 1):
        heading = seg.choice_text or story.title
        body = [f"<h2>{esc(heading)}</h2>"]
        if seg.id in images:
            body.append(f'<p><img src="{images[seg.id]}" alt="{esc(seg.illustration_prompt)}"/></p>')
        body.extend(f"<p>{esc(p)}</p>" for p in _paragraphs(seg.text))
        if mode == "tree":
            body.append("<ol>")
            for i, choice in enumerate(seg.choices):
                child = story.shown_child(seg.id, i)
                if child is not None and child.id in in_book:
                    body.append(f'<li><a href="{_file(child)}">{esc(choice)}</a></li>')
                else:
                    body.append(f'<li class="sb-untaken">{esc(choice)} — {esc(PLACEHOLDER_TEXT)}</li>')
            body.append("</ol>")
            versions = (
                story.roots() if seg.parent_id is None else story.children_for(seg.parent_id, seg.choice_index or 0)
            )
            links = [
                f'<a href="{_file(v)}">other version {k} of {len(versions)}</a>'
                for k, v in enumerate(versions, 1)
                if v is not seg and v.id in in_book
            ]
            if links:
                body.append(f"<p>{' · '.join(links)}</p>")
            if seg.parent_id and seg.parent_id in in_book:
                body.append(f'<p><a href="{_file(story.segment(seg.parent_id))}">← back</a></p>')
        chapter = epub.EpubHtml(title=clean_xml_text(f"{n}. {heading}"[:120]), file_name=_file(seg), lang=lang)
        chapter.content = f"<html><body>{''.join(body)}</body></html>"
        chapter.add_item(css)
        book.add_item(chapter)
        chapters.append(chapter)

    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["cover", "nav", *chapters]
    out = io.BytesIO()
    epub.write_epub(out, book, {})
    return out.getvalue()


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
