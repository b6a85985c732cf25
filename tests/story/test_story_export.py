"""Twee 3, Markdown and HTML exports, parsed back."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from story_fakes import FakeImageBackend, ScriptedLLM, parse_twee

from storybench.story import StoryEngine, StorySettings, export_story, to_html, to_markdown, to_twee
from storybench.story.export import choice_passage_name
from storybench.story.export_words import export_words


@pytest.fixture
def engine(tmp_path: Path) -> StoryEngine:
    eng = StoryEngine(
        StorySettings(premise="Старий маяк і лист без адреси", language="uk", title="Маяк"),
        llm=ScriptedLLM(),
        image_backend=FakeImageBackend(),
        output_root=tmp_path,
        inline_images=True,
    )
    eng.start()
    second = eng.choose(0)
    eng.choose(1)
    eng.regenerate(second.id)  # an alternative version of the second segment
    return eng


def test_twee_has_one_passage_per_segment_and_links_matching_choices(engine: StoryEngine) -> None:
    story = engine.story
    source = to_twee(story)
    passages = parse_twee(source)
    data = json.loads(passages.pop("StoryData")["text"])
    assert passages.pop("StoryTitle")["text"] == "Маяк"
    assert data["ifid"] == story.ifid and re.fullmatch(
        r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}", data["ifid"]
    )
    assert data["format"] == "Harlowe" and data["start"] == story.start_id() == "s001"
    placeholders = {name for name, p in passages.items() if "not-written" in p["tags"]}
    assert set(passages) - placeholders == set(story.segments)  # one passage per segment
    for name in placeholders:  # ...and one per untaken choice, so every link resolves
        assert export_words("uk").placeholder in passages[name]["text"]
    for sid in story.segments:
        passage = passages[sid]
        seg = story.segments[sid]
        choice_links = passage["links"][: len(seg.choices)]
        assert [text for text, _ in choice_links] == seg.choices
        assert all(target in passages for _, target in passage["links"])
        for i, (_, target) in enumerate(choice_links):
            child = story.shown_child(sid, i)
            assert target == (child.id if child else choice_passage_name(seg, i))
        assert f'<img src="images/{sid}.png"' in passage["text"]
        assert seg.text.split("\n")[0] in passage["text"]
        assert "position" in passage["meta"]
    # the link from s001's first choice goes to the version on the current path (the regenerated one)
    assert passages["s001"]["links"][0][1] == story.current_id
    assert "alternative" in passages["s002"]["tags"]
    # alternatives reachable
    assert (export_words("uk").version_link(2, 2), story.current_id) in passages["s002"]["links"]


def test_twee_sugarcube_and_unknown_format(engine: StoryEngine) -> None:
    data = json.loads(parse_twee(to_twee(engine.story, "SugarCube"))["StoryData"]["text"])
    assert data["format"] == "SugarCube"
    with pytest.raises(ValueError, match="story_format"):
        to_twee(engine.story, "Snowman!")


def test_markdown_links_and_images(engine: StoryEngine) -> None:
    md = to_markdown(engine.story)
    assert md.startswith("# Маяк")
    for sid, seg in engine.story.segments.items():
        assert f'<a id="{sid}"></a>' in md
        assert f"]({seg.image_path})" in md
    first = engine.story.segments["s001"]
    assert f"1. [{first.choices[0]}](#{engine.story.current_id})" in md
    assert f"2. {first.choices[1]} *({export_words('uk').not_written})*" in md


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[override]
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        elif tag == "a" and "sb-choice" in (a.get("class") or ""):
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a["src"])


def test_html_is_self_contained(engine: StoryEngine, tmp_path: Path) -> None:
    page = to_html(engine.story, engine.story_dir)
    parser = _Collect()
    parser.feed(page)
    assert sorted(parser.sections) == sorted(engine.story.segments)
    assert all(href.lstrip("#") in engine.story.segments for href in parser.links) and parser.links
    assert len(parser.images) == len(engine.story.segments)
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'src="images/' not in page and "<script" not in page


def test_export_story_writes_files(engine: StoryEngine) -> None:
    for kind, ext in (("twee", ".twee"), ("markdown", ".md"), ("html", ".html"), ("epub", ".epub")):
        path = export_story(engine.story, kind, story_dir=engine.story_dir)
        assert path == engine.story_dir / f"story{ext}" and path.stat().st_size > 100
    with pytest.raises(ValueError, match="kind"):
        export_story(engine.story, "pdf", story_dir=engine.story_dir)  # type: ignore[arg-type]


def test_link_text_is_made_safe() -> None:
    from storybench.story.model import Segment, Story

    story = Story(settings=StorySettings(premise="p"))
    story.add(Segment(id="s001", text="t", choices=["Go -> left [now]", "Pick A|B"]))
    story.current_id = "s001"
    links = parse_twee(to_twee(story))["s001"]["links"]
    assert links[0] == ("Go → left now", choice_passage_name(story.segments["s001"], 0))
    assert links[1][0] == "Pick A/B"
