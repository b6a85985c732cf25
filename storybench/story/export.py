"""Story exports: Twee 3 (Twine), Markdown, a self-contained HTML file and EPUB 3.

Twee 3: see :mod:`storybench.story.twee` (escaping, placeholders, versions).
Markdown: see :mod:`storybench.story.markdown_export` (escaping).
EPUB 3: see :mod:`storybench.story.epub`.

HTML: every segment a ``<section>``, images embedded as base64 ``data:`` URIs, choices
as in-page ``#id`` links; no external files, no scripts needed to read it. Text is
HTML-escaped. The words the exports add ("← back", "not written yet"...) are in the
story's language (:mod:`storybench.story.export_words`).
"""

from __future__ import annotations

import base64
import html
import mimetypes
import os
import re
from pathlib import Path
from typing import Literal

from storybench.files import atomic_write_text
from storybench.story.epub import export_story_epub
from storybench.story.export_words import ExportWords, export_words
from storybench.story.markdown_export import to_markdown
from storybench.story.model import Segment, Story
from storybench.story.twee import TWINE_FORMATS, choice_passage_name, choice_target, passage_name, to_twee

__all__ = [
    "EXPORT_KINDS",
    "TWINE_FORMATS",
    "choice_passage_name",
    "choice_target",
    "export_story",
    "passage_name",
    "to_html",
    "to_markdown",
    "to_twee",
]

ExportKind = Literal["twee", "markdown", "html", "epub"]
_EXTENSIONS = {"twee": ".twee", "markdown": ".md", "html": ".html", "epub": ".epub"}

#: What the explorer's Export menu offers: ``(label, kind)``.
EXPORT_KINDS: tuple[tuple[str, ExportKind], ...] = (
    ("Twee 3 (Twine)", "twee"),
    ("Markdown", "markdown"),
    ("HTML", "html"),
    ("EPUB 3", "epub"),
)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _dfs_order(story: Story) -> list[Segment]:
    return [seg for _, seg in story.walk()]


def _data_uri(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_CSS = """
body{font-family:Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;
  line-height:1.55;color:#222;background:#fbfaf7}
section.sb-passage{display:none;border-top:1px solid #ddd;padding-top:1rem}
section.sb-passage:target{display:block}
body:not(:has(section.sb-passage:target)) section.sb-start{display:block}
img{max-width:100%;border-radius:4px}
ol.sb-choices li{margin:.3rem 0}
.sb-untaken{color:#595959}
nav.sb-toc{font-size:.85rem;color:#555}
""".strip()


def _toc(story: Story, words: ExportWords) -> list[str]:
    """The folded list of every passage, indented by depth."""
    esc = html.escape
    toc = [f'<nav class="sb-toc"><details><summary>{esc(words.all_passages)}</summary><ul>']
    for depth, seg in story.walk():
        label = seg.choice_text or words.start
        toc.append(f'<li style="margin-left:{depth}em"><a href="#{seg.id}">{esc(seg.id)} — {esc(label)}</a></li>')
    toc.append("</ul></details></nav>")
    return toc


def _choices(story: Story, seg: Segment, words: ExportWords) -> list[str]:
    """The choice list: links to written continuations, marks on the rest."""
    esc = html.escape
    items = ['<ol class="sb-choices">']
    for i, choice in enumerate(seg.choices):
        target = choice_target(story, seg, i)
        if target:
            items.append(f'<li><a class="sb-choice" href="#{esc(target)}">{esc(choice)}</a></li>')
        else:
            items.append(f'<li class="sb-untaken">{esc(choice)} — {esc(words.not_written)}</li>')
    items.append("</ol>")
    return items


def _section(story: Story, seg: Segment, base: Path | None, words: ExportWords) -> list[str]:
    """One segment's ``<section>``."""
    esc = html.escape
    cls = "sb-passage sb-start" if seg.id == story.start_id() else "sb-passage"
    parts = [f'<section id="{esc(seg.id)}" class="{cls}">']
    if seg.choice_text:
        parts.append(f'<p class="sb-took"><small>→ {esc(seg.choice_text)}</small></p>')
    uri = (
        _data_uri(base / seg.image_path) if base is not None and seg.image_path and seg.image_status == "done" else None
    )
    if uri:
        parts.append(f'<img src="{uri}" alt="{esc(seg.illustration_prompt)}">')
    parts.extend(f"<p>{esc(p)}</p>" for p in _paragraphs(seg.text))
    parts.extend(_choices(story, seg, words))
    if seg.parent_id:
        parts.append(f'<p><a class="sb-back" href="#{esc(seg.parent_id)}">{esc(words.back)}</a></p>')
    parts.append("</section>")
    return parts


def to_html(story: Story, story_dir: str | os.PathLike[str] | None = None) -> str:
    """The story as one self-contained HTML page.

    Args:
        story: the story.
        story_dir: the story folder, where ``image_path`` files are read from to be
            embedded (images that cannot be read are left out).
    """
    base = Path(story_dir) if story_dir is not None else None
    words = export_words(story.settings.language)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{esc(story.settings.language)}"><head><meta charset="utf-8">',
        f"<title>{esc(story.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(story.title)}</h1>",
        f'<p class="sb-premise"><em>{esc(story.settings.premise)}</em></p>',
        *_toc(story, words),
    ]
    for seg in _dfs_order(story):
        parts.extend(_section(story, seg, base, words))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def export_story(
    story: Story,
    kind: ExportKind,
    path: str | os.PathLike[str] | None = None,
    *,
    story_dir: str | os.PathLike[str] | None = None,
    story_format: str = "Harlowe",
    epub_mode: str = "tree",
    author: str = "",
) -> Path:
    """Write an export atomically.

    Args:
        story: the story.
        kind: ``"twee"``, ``"markdown"``, ``"html"`` or ``"epub"``.
        path: destination (default ``<story_dir>/story.<twee|md|html|epub>``).
        story_dir: the story folder (images for Twee, HTML and EPUB; default destination).
        story_format: Twine story format for Twee.
        epub_mode: ``"path"`` (the path taken) or ``"tree"`` (every segment, linked) for EPUB.
        author: the EPUB's author.

    Returns:
        The written path.

    Raises:
        ValueError: unknown kind, no destination, or see :func:`to_twee`.
        ImportError: EPUB without ebooklib installed.
    """
    if kind not in _EXTENSIONS:
        raise ValueError(f"kind: {kind!r} not one of {', '.join(_EXTENSIONS)}")
    if path is None:
        if story_dir is None:
            raise ValueError("export_story: give a path or a story_dir")
        path = Path(story_dir) / f"story{_EXTENSIONS[kind]}"
    if kind == "epub":
        return export_story_epub(story, path, story_dir=story_dir, mode=epub_mode, author=author)
    if kind == "twee":
        text = to_twee(story, story_format, story_dir=story_dir)
    elif kind == "markdown":
        text = to_markdown(story)
    else:
        text = to_html(story, story_dir)
    return atomic_write_text(path, text)
