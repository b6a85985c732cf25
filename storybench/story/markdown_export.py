"""Markdown export of a story, escaped so every piece of the story's text shows verbatim.

CommonMark (https://spec.commonmark.org/0.31.2/) reads markup in plain text: raw HTML
(``<script>``, ``<i>``), emphasis, links, code spans, entity references and, at the
start of a line, headings, lists, block quotes, fences and thematic breaks. Any ASCII
punctuation character may be backslash-escaped (§2.4), and an escaped character is
shown as itself. :func:`escape_markdown` escapes

* everywhere: ``\\ ` * _ [ ] < > & ~ | # !`` (HTML, entities, emphasis, links, images,
  code, strikethrough and tables of the common extensions, closing ``#`` of headings);
* at the start of a line: ``+ - =`` and the ``.``/``)`` after leading digits (list
  items, setext underlines, thematic breaks).

Letters, digits, spaces and other punctuation are kept, so the Markdown stays readable.
The only markup in the export is storybench's own: headings, anchors, image and
choice links, and the emphasis around labels.
"""

from __future__ import annotations

import html
import re

from storybench.story.export_words import export_words
from storybench.story.model import Story
from storybench.story.twee import choice_target

__all__ = ["escape_markdown", "to_markdown"]

_INLINE = re.compile(r"([\\`*_\[\]<>&~|#!])")
_LINE_START = re.compile(r"^([ \t]*)([+\-=]|\d+(?=[.)]))", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape_markdown(text: str) -> str:
    """``text`` with every character CommonMark could read as markup backslash-escaped.

    Control characters (except tab and newline) are removed; line breaks are kept.
    """
    escaped = _INLINE.sub(r"\\\1", _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n"))

    def line_start(m: re.Match[str]) -> str:
        lead, mark = m.group(1), m.group(2)
        if mark.isdigit():  # "1." / "1)": escape the delimiter after the digits
            return f"{lead}{mark}\\"
        return f"{lead}\\{mark}"

    return _LINE_START.sub(line_start, escaped)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _destination(path: str) -> str:
    """A link destination: as is when plain, else in ``<...>`` (spaces, parentheses)."""
    if re.fullmatch(r"[\w./-]+", path):
        return path
    return "<" + re.sub(r"([<>\\])", r"\\\1", path) + ">"


def to_markdown(story: Story) -> str:
    """The story as Markdown: a heading per segment (depth-first), its illustration as a
    relative image link, its text, and its choices as links to the continuations.

    Every text of the story (title, premise, segment text, choices, illustration
    prompts) is escaped with :func:`escape_markdown`; the added words are in the
    story's language (:mod:`storybench.story.export_words`).
    """
    s = story.settings
    words = export_words(s.language)
    esc = escape_markdown
    out = [
        f"# {esc(story.title)}",
        "",
        f"*{words.premise}:* {esc(s.premise)}",
        "",
        f"*{words.style}:* {esc(s.style)} · *{words.language}:* {esc(s.language)}",
        "",
    ]
    for _depth, seg in story.walk():
        title = esc(seg.id) + (f" — {esc(seg.choice_text)}" if seg.choice_text else "")
        out.append(f'<a id="{html.escape(seg.id)}"></a>')
        out.append(f"## {title}")
        out.append("")
        if seg.image_path and seg.image_status == "done":
            alt = esc(seg.illustration_prompt.replace("\n", " "))
            out.append(f"![{alt}]({_destination(seg.image_path)})")
            out.append("")
        out.extend(esc(p) + "\n" for p in _paragraphs(seg.text))
        for i, choice in enumerate(seg.choices):
            target = choice_target(story, seg, i)
            text = esc(choice.replace("\n", " "))
            out.append(f"{i + 1}. [{text}](#{target})" if target else f"{i + 1}. {text} *({words.not_written})*")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
