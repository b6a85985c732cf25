"""The Markdown story export rendered by a CommonMark renderer (markdown-it-py): every text
of the story shows verbatim, none of it becomes markup; the added words follow the story's
language."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from export_renders import HOSTILE, make_story
from export_validators import module

from storybench.story.export import to_markdown
from storybench.story.markdown_export import escape_markdown
from storybench.story.model import Segment, Story, StorySettings

SCRIPT = "<script>alert('xss')</script>"
TITLE = "<i>Маяк</i> & *зорі*"
UNCLOSED = "<b>Піти далі"
BLOCK = "&amp; [x](y) `z` ~~w~~"


class _Rendered(HTMLParser):
    """The elements and the text (entities decoded) of rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):  # type: ignore[override]
        self.tags.append(tag)

    def handle_data(self, data):  # type: ignore[override]
        self.text += data


def _render(markdown: str) -> _Rendered:
    markdown_it = module("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").render(markdown)
    parsed = _Rendered()
    parsed.feed(page)
    return parsed


def _hostile_story(tmp_path: Path) -> Story:
    story = make_story(tmp_path / "story")
    story.settings.title = TITLE
    story.add(
        Segment(
            id="s004",
            parent_id="s002",
            choice_index=0,
            choice_text="Далі",
            text=f"{SCRIPT}\n\n# not a heading\n1. not a list\n> not a quote\n---\n    not code\n{BLOCK}",
            choices=[UNCLOSED, "after the unclosed one"],
        )
    )
    return story


def test_hostile_text_shows_verbatim_when_rendered(tmp_path: Path) -> None:
    story = _hostile_story(tmp_path)
    rendered = _render(to_markdown(story))
    # the only elements are the export's own: headings, anchors, paragraphs, emphasis, lists, links, images
    assert set(rendered.tags) <= {"h1", "h2", "p", "em", "a", "ol", "li", "img"}, rendered.tags
    assert rendered.tags.count("h1") == 1 and "script" not in rendered.tags and "b" not in rendered.tags
    text = rendered.text
    for piece in (SCRIPT, TITLE, UNCLOSED, "# not a heading", "1. not a list", "> not a quote", "---"):
        assert piece in text, piece
    assert BLOCK in text and "not code" in text
    for piece in ("[[x]]", "<<set $gold to 5>>", "``double``", "''bold''", "_temp"):
        assert piece in HOSTILE and piece in text, piece
    # the choice after the unclosed <b> is its own list item, in plain text
    assert "after the unclosed one" in text


def test_escape_markdown_round_trips_every_ascii_character() -> None:
    ascii_text = "".join(chr(c) for c in range(32, 127))
    for text in (ascii_text, "- item", "+ item", "== heading", "12) item", "  3. item", "a\\", "<!-- c -->"):
        rendered = _render(escape_markdown(text))
        assert rendered.text.strip() == text.strip(), text
        assert rendered.tags == ["p"], text


@pytest.mark.parametrize(("language", "mark"), [("uk", "ще не написано"), ("en", "not written yet")])
def test_words_follow_the_story_language(language: str, mark: str) -> None:
    story = Story(settings=StorySettings(premise="p", language=language, title="T"))
    story.add(Segment(id="s001", text="t", choices=["go"]))
    story.current_id = "s001"
    markdown = to_markdown(story)
    assert f"1. go *({mark})*" in markdown
    other = "not written yet" if language == "uk" else "ще не написано"
    assert other not in markdown
