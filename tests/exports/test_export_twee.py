"""The Twee export compiled to Twine 2 HTML by extwee (from npm), read back with an HTML parser:
no warning, every link resolves, alternatives reachable, images embedded, and segment
text that looks like Twee or story-format code stays plain text.

extwee needs a story format file to compile; the Harlowe and SugarCube runtimes are not
on npm, so the test writes a minimal format file in the Twine 2 story format shape
(JSONP ``window.storyFormat({...})`` with ``{{STORY_NAME}}`` and ``{{STORY_DATA}}``):
what is checked is the story data extwee writes, which does not depend on the runtime.
"""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from export_renders import HOSTILE_PIECES, make_story
from export_validators import extwee

from storybench.story.export import export_story
from storybench.story.export_words import export_words
from storybench.story.twee import PLACEHOLDER_TEXT, TWINE_FORMATS, link_text, to_twee, verbatim

FORMAT_JS = (
    "window.storyFormat({{"
    '"name":"{name}","version":"{version}","author":"storybench test stand-in","description":"",'
    '"proofing":false,"source":"<!DOCTYPE html><html><head><meta charset=\\"utf-8\\">'
    '<title>{{{{STORY_NAME}}}}</title></head><body>{{{{STORY_DATA}}}}</body></html>"'
    "}});\n"
)


class _TwineHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.story: dict[str, str] = {}
        self.passages: dict[str, dict[str, str]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[override]
        a = {k: v or "" for k, v in attrs}
        if tag == "tw-storydata":
            self.story = a
        elif tag == "tw-passagedata":
            self._current = a["name"]
            self.passages[a["name"]] = {**a, "text": ""}

    def handle_endtag(self, tag):  # type: ignore[override]
        if tag == "tw-passagedata":
            self._current = None

    def handle_data(self, data):  # type: ignore[override]
        if self._current is not None:
            self.passages[self._current]["text"] += data


def compile_twee(twee: Path, story_format: str, tmp_path: Path) -> tuple[_TwineHTML, str]:
    fmt = tmp_path / f"{story_format}.js"
    fmt.write_text(FORMAT_JS.format(name=story_format, version=TWINE_FORMATS[story_format]), encoding="utf-8")
    out = tmp_path / f"{story_format}.html"
    proc = subprocess.run(
        [extwee(), "-c", "-i", str(twee), "-s", str(fmt), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    parser = _TwineHTML()
    parser.feed(out.read_text(encoding="utf-8"))
    return parser, log


def _links(text: str) -> list[str]:
    return [m.split("->")[-1] for m in re.findall(r"\[\[(.+?)\]\]", text)]


def _outside_verbatim(text: str, story_format: str) -> str:
    if story_format == "Harlowe":
        return re.sub(r"(`+)(.*?)\1", "", text)
    return re.sub(r'""".*?"""|<nowiki>.*?</nowiki>', "", text)


@pytest.mark.parametrize("story_format", sorted(TWINE_FORMATS))
def test_extwee_compiles_without_warning_and_every_link_resolves(story_format: str, tmp_path: Path) -> None:
    story = make_story(tmp_path / "story")
    twee = export_story(story, "twee", tmp_path / "story.twee", story_dir=tmp_path / "story", story_format=story_format)
    html, log = compile_twee(twee, story_format, tmp_path)
    assert not re.search(r"warn|error", log, re.IGNORECASE), log
    assert html.story["format"] == story_format and html.story["format-version"] == TWINE_FORMATS[story_format]
    names = set(html.passages)
    # one passage per segment and one per untaken choice: no segment text started a passage
    placeholders = {n for n, p in html.passages.items() if "not-written" in p["tags"].split()}
    assert names - placeholders == set(story.segments)
    assert len(placeholders) == 3  # s001's two untaken choices, s002's one
    links = [
        (name, target)
        for name, p in html.passages.items()
        for target in _links(_outside_verbatim(p["text"], story_format))
    ]
    assert links and all(target in names for _, target in links), links
    for name in placeholders:  # in the story's language (Ukrainian)
        assert export_words("uk").placeholder in html.passages[name]["text"]
        assert PLACEHOLDER_TEXT not in html.passages[name]["text"]
    # every passage reachable from the start passage, the alternative included
    start = next(n for n, p in html.passages.items() if p["pid"] == html.story["startnode"])
    seen, todo = {start}, [start]
    while todo:
        for target in _links(_outside_verbatim(html.passages[todo.pop()]["text"], story_format)):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert seen == names
    assert "alternative" in html.passages["s003"]["tags"].split()
    # images embedded: the compiled HTML shows them offline
    assert html.passages["s001"]["text"].count('src="data:image/png;base64,') == 1


@pytest.mark.parametrize("story_format", sorted(TWINE_FORMATS))
def test_code_in_segment_text_stays_plain_text(story_format: str, tmp_path: Path) -> None:
    story = make_story(tmp_path / "story")
    twee = export_story(story, "twee", tmp_path / "story.twee", story_dir=tmp_path / "story", story_format=story_format)
    html, _ = compile_twee(twee, story_format, tmp_path)
    text = html.passages["s001"]["text"]
    for piece in HOSTILE_PIECES:
        assert piece in text, piece  # the words survive...
    outside = _outside_verbatim(text, story_format)
    for piece in ("[[x]]", "$var", "<<set", "(set:", "::", "_temp", "''bold''"):
        assert piece not in outside, (piece, outside)  # ...only inside verbatim markup
    assert "\n:: not a passage" not in twee.read_text(encoding="utf-8")
    # the title survives as the story name
    assert html.story["name"] == "Маяк :: [[title]]"


def test_verbatim_guards_hold_backticks_and_quotes() -> None:
    assert verbatim("a ``b`` c") == "```a ``b`` c```"
    assert verbatim("`edge`") == "`` `edge` ``"
    assert verbatim("<<set $x>>", "SugarCube") == '"""<<set $x>>"""'
    assert verbatim('say """hi"""', "SugarCube") == '<nowiki>say """hi"""</nowiki>'
    with pytest.raises(ValueError, match="story_format"):
        verbatim("x", "Snowman")


def test_link_text_is_plain_or_guarded() -> None:
    assert link_text("Відкрити лист") == "Відкрити лист"
    assert link_text("Go -> up [now]") == "Go → up now"
    assert link_text("pay $5 (set: x)") == "`pay $5 (set: x)`"
    assert "\u2060" in link_text("take $gold", "SugarCube")


def test_story_data_names_the_format_and_start(tmp_path: Path) -> None:
    story = make_story(tmp_path)
    source = to_twee(story)
    data = json.loads(source.split(":: StoryData\n", 1)[1].split("\n\n", 1)[0])
    assert data["format"] == "Harlowe" and data["start"] == "s001" and data["ifid"] == story.ifid
