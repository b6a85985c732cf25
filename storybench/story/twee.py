"""Twee 3 export of a story, escaped so no generated text can run as Twine code.

Format (Twee 3, https://github.com/iftechfoundation/twine-specs/blob/master/twee-3-specification.md):
``StoryTitle`` and ``StoryData`` (IFID, story format and version, start passage) come
first, then one passage per segment, named by the segment id, tagged ``alternative``
when it is a regenerated version that the choice does not link to.

Escaping, at each level a segment's text passes through:

* **Twee**: a line starting with ``::`` starts a passage (extwee and Tweego split
  the file on ``\\n::``), and passage names and tags treat ``[ ] { } \\`` as
  metacharacters (escaped with ``\\``). Every line of segment text is wrapped in the
  story format's verbatim markup below, so no text line starts with ``::``; placeholder
  passage names keep only letters, digits and spaces.
* **Harlowe** (default): links ``[[ ]]``, macros ``(name:)``, variables ``$x``,
  temporaries ``_x``, hooks ``[ ]``/``?x``, HTML ``<...>`` and the formatting marks are
  all inert inside *verbatim markup*: text between matching runs of backticks, the run
  longer than any run of backticks inside (Harlowe's own rule for verbatim guards).
  Each line of text is one verbatim span.
* **SugarCube**: macros ``<<...>>``, links, naked variables ``$x``/``_x`` and HTML are
  inert inside ``\"\"\"...\"\"\"`` (verbatim text markup) or ``<nowiki>...</nowiki>``.

Choice link texts become ``[[text->target]]`` with ``]]``, ``->``, ``<-``, ``|`` and
brackets replaced; in Harlowe a text with markup characters is wrapped in verbatim
markup (Harlowe renders link text as markup); in SugarCube a word joiner (U+2060) is
put after ``$``, ``_`` and ``<`` so they start no variable or macro.

Every link resolves: a taken choice links to its continuation (the version on the
current path, else the newest); an untaken one to a short placeholder passage
(:data:`PLACEHOLDER_TEXT`, tagged ``not-written``). Regenerated versions are reachable:
each version links to the others ("other version 2 of 3"). These words are in the
story's language (:func:`storybench.story.export_words.export_words`). Illustrations are
embedded as ``data:`` URIs when the story folder is given, so the compiled HTML shows
them offline; otherwise they are referenced by their relative path.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import os
import re
from pathlib import Path

from storybench.story.export_words import WORDS, ExportWords, export_words
from storybench.story.model import Segment, Story

__all__ = [
    "PLACEHOLDER_TEXT",
    "TWINE_FORMATS",
    "choice_passage_name",
    "choice_target",
    "escape_twee_name",
    "link_text",
    "passage_name",
    "to_twee",
    "verbatim",
]

#: Story formats the export targets, with the version written into StoryData.
TWINE_FORMATS: dict[str, str] = {"Harlowe": "3.3.9", "SugarCube": "2.37.3"}

#: Text of the passage an untaken choice links to, in English (see
#: :mod:`storybench.story.export_words` for the story's language).
PLACEHOLDER_TEXT = WORDS["en"].placeholder

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HARLOWE_MARKUP = re.compile(r"[$_?]\w|\(\s*[\w-]+\s*:|[`<>*^~=#&\\]|''|//")


def passage_name(segment: Segment) -> str:
    """The Twine passage name of a segment: its id."""
    return segment.id


def escape_twee_name(name: str) -> str:
    """A passage name or tag with Twee 3's metacharacters ``[ ] { } \\`` escaped."""
    return re.sub(r"([\[\]{}\\])", r"\\\1", name)


def _check_format(story_format: str) -> None:
    if story_format not in TWINE_FORMATS:
        raise ValueError(f"story_format: {story_format!r} not one of {', '.join(TWINE_FORMATS)}")


def verbatim(text: str, story_format: str = "Harlowe") -> str:
    """One line of ``text`` wrapped so the story format shows it as-is.

    Harlowe: a run of backticks longer than any inside (a space pads text that starts
    or ends with a backtick). SugarCube: ``\"\"\"text\"\"\"``, or ``<nowiki>`` when the
    text holds ``\"\"\"``; a text holding both is split into pieces.

    Raises:
        ValueError: unknown story format.
    """
    _check_format(story_format)
    text = _CONTROL.sub("", text).replace("\n", " ").replace("\r", " ")
    if story_format == "Harlowe":
        longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
        ticks = "`" * (longest + 1)
        if text.startswith("`") or text.endswith("`"):
            text = f" {text} "
        return f"{ticks}{text}{ticks}"
    if '"""' not in text:
        return f'"""{text}"""'
    if "</nowiki>" not in text:
        return f"<nowiki>{text}</nowiki>"
    return "".join(verbatim(piece, story_format) for piece in re.split(r'(?<=""")', text) if piece)


def link_text(text: str, story_format: str = "Harlowe") -> str:
    """Choice text usable as the text of ``[[text->target]]`` in ``story_format``.

    Raises:
        ValueError: unknown story format.
    """
    _check_format(story_format)
    t = _CONTROL.sub("", text).replace("->", "→").replace("<-", "←").replace("|", "/")
    t = re.sub(r"[\[\]{}]", "", t)
    t = re.sub(r"\s+", " ", t).strip() or "…"
    if story_format == "Harlowe":
        return verbatim(t, story_format) if _HARLOWE_MARKUP.search(t) else t
    return re.sub(r"([$_<])", "\\1\u2060", t)


def choice_passage_name(segment: Segment, index: int) -> str:
    """The placeholder passage an untaken choice links to: ``"<id>.<n> <first words>"``
    (letters, digits and spaces only)."""
    words = re.sub(r"[^\w\s]|_", " ", segment.choices[index]).split()[:5]
    return f"{segment.id}.{index + 1} " + " ".join(words) if words else f"{segment.id}.{index + 1}"


def choice_target(story: Story, segment: Segment, index: int) -> str | None:
    """The segment id a choice leads to (see :meth:`Story.shown_child`), ``None`` if untaken."""
    child = story.shown_child(segment.id, index)
    return child.id if child is not None else None


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _image_src(seg: Segment, story_dir: Path | None) -> str:
    if story_dir is not None:
        path = story_dir / seg.image_path
        try:
            data = path.read_bytes()
        except OSError:
            return seg.image_path
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return seg.image_path


def _alt(text: str) -> str:
    """Alt text without anything a story format could read as code."""
    return html.escape(re.sub(r"[`$_<>\[\]{}()|\\]", " ", _CONTROL.sub("", text)).strip(), quote=True)


def _versions(story: Story, seg: Segment) -> list[Segment]:
    if seg.parent_id is None:
        return story.roots()
    return story.children_for(seg.parent_id, seg.choice_index or 0)


def _link(text: str, target: str) -> str:
    return f"[[{text}->{target}]]"


def _single_line(text: str) -> str:
    line = re.sub(r"\s+", " ", _CONTROL.sub("", text)).strip()
    return f" {line}" if line.startswith("::") else line  # extwee trims it back; it starts no passage


def _meta(depth: int, row: int) -> str:
    """A passage's Twine map position and size."""
    return json.dumps({"position": f"{100 + depth * 200},{100 + row * 150}", "size": "100,100"})


def _body(seg: Segment, story_format: str, base: Path | None) -> list[str]:
    """A segment passage's illustration and text, every line verbatim."""
    out = []
    if seg.image_path and seg.image_status == "done":
        out.append(f'<img src="{html.escape(_image_src(seg, base))}" alt="{_alt(seg.illustration_prompt)}">')
        out.append("")
    for paragraph in _paragraphs(seg.text):
        out.extend(verbatim(line, story_format) for line in paragraph.splitlines() if line.strip())
        out.append("")
    return out


def _version_links(story: Story, seg: Segment, words: ExportWords) -> list[str]:
    """Links to the other versions of ``seg`` ("other version 2 of 3"), after a blank line."""
    versions = _versions(story, seg)
    if len(versions) < 2:
        return []
    total = len(versions)
    return [
        "",
        *(_link(words.version_link(n, total), passage_name(v)) for n, v in enumerate(versions, 1) if v is not seg),
    ]


def _placeholder(name: str, seg: Segment, index: int, meta: str, story_format: str, words: ExportWords) -> list[str]:
    """The passage an untaken choice links to: the choice, the placeholder text, a link back."""
    return [
        f":: {escape_twee_name(name)} [not-written] {meta}",
        verbatim(seg.choices[index], story_format),
        "",
        verbatim(words.placeholder, story_format),
        "",
        _link(words.back_short, passage_name(seg)),
        "",
    ]


def _header(story: Story, story_format: str, start: str) -> list[str]:
    """``StoryTitle`` and ``StoryData``."""
    data = {
        "ifid": story.ifid,
        "format": story_format,
        "format-version": TWINE_FORMATS[story_format],
        "start": start,
        "tag-colors": {"alternative": "purple", "not-written": "red"},
        "zoom": 1,
    }
    return [
        ":: StoryTitle",
        _single_line(story.title),
        "",
        ":: StoryData",
        json.dumps(data, indent=2, ensure_ascii=False),
        "",
    ]


def to_twee(story: Story, story_format: str = "Harlowe", *, story_dir: str | os.PathLike[str] | None = None) -> str:
    """The story as Twee 3 source.

    Args:
        story: the story.
        story_format: ``"Harlowe"`` or ``"SugarCube"`` (named in StoryData).
        story_dir: the story folder; when given, illustrations are embedded as
            ``data:`` URIs (those that cannot be read stay relative paths).

    Returns:
        The Twee source, ending with a newline.

    Raises:
        ValueError: unknown story format, or a story without segments.
    """
    _check_format(story_format)
    start = story.start_id()
    if start is None:
        raise ValueError(f"story {story.id}: nothing to export (no segments)")
    base = Path(story_dir) if story_dir is not None else None
    words = export_words(story.settings.language)
    out = _header(story, story_format, start)
    placeholders: list[tuple[str, Segment, int, int, int]] = []
    positions: dict[int, int] = {}
    for depth, seg in story.walk():
        row = positions.get(depth, 0)
        positions[depth] = row + 1
        alternative = seg.parent_id is not None and story.shown_child(seg.parent_id, seg.choice_index or 0) is not seg
        tag_part = " [alternative]" if alternative else ""
        out.append(f":: {escape_twee_name(passage_name(seg))}{tag_part} {_meta(depth, row)}")
        out.extend(_body(seg, story_format, base))
        for i, choice in enumerate(seg.choices):
            target = choice_target(story, seg, i)
            if target is None:
                target = choice_passage_name(seg, i)
                placeholders.append((target, seg, i, depth + 1, positions.get(depth + 1, 0) + len(placeholders)))
            out.append(_link(link_text(choice, story_format), target))
        out.extend(_version_links(story, seg, words))
        out.append("")
    for name, seg, i, depth, row in placeholders:
        out.extend(_placeholder(name, seg, i, _meta(depth, row), story_format, words))
    return "\n".join(out).rstrip() + "\n"
