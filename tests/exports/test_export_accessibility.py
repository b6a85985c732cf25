"""EPUB accessibility: DAISY Ace finds nothing critical or serious in the comic EPUB of
``plans/mavka-forest-manga.json`` (with and without a cover) and in a story EPUB; the page
alt text is the page's lettering in reading order and in the book's language; the nav lists
every chapter and page."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from export_renders import make_story, settings
from export_validators import ace_command, ace_findings, run_ace
from plan_factory import plan_dict

from storybench.batch import render_plan
from storybench.compose.page_text import page_alt_text
from storybench.plan import load_plan, parse_plan
from storybench.plan.models import ComicPlan
from storybench.story.export import export_story
from storybench.story.model import Segment

ROOT = Path(__file__).resolve().parents[2]
MAVKA = ROOT / "plans" / "mavka-forest-manga.json"


def _comic_epub(plan: ComicPlan, out: Path, **changes) -> Path:
    s = settings(exports=["epub"], author="", **changes)
    summary = render_plan(plan, backend="storyboard", output_dir=out, settings=s, progress=False)
    assert summary.status == "completed" and summary.epub is not None, summary.errors
    return summary.epub


def _read(epub: Path, suffix: str) -> str:
    with zipfile.ZipFile(epub) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith(suffix))).decode("utf-8")


def _assert_ace_clean(epub: Path, out: Path) -> None:
    findings = ace_findings(run_ace(epub, out))
    bad = [f for f in findings if f[0] in ("critical", "serious")]
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.parametrize("cover", [False, True])
def test_ace_finds_nothing_serious_in_the_manga_epub(cover: bool, tmp_path: Path) -> None:
    ace_command()  # skip (fail under CI) before rendering when Ace is not installed
    epub = _comic_epub(load_plan(MAVKA), tmp_path / "run", cover=cover)
    _assert_ace_clean(epub, tmp_path / "ace")


@pytest.mark.slow
def test_ace_finds_nothing_serious_in_a_story_epub(tmp_path: Path) -> None:
    ace_command()
    story = make_story(tmp_path / "story")
    story.add(
        Segment(
            id="s004", parent_id="s002", choice_index=0, choice_text="Далі", text="<script>x</script>", choices=["a"]
        )
    )
    epub = export_story(story, "epub", tmp_path / "story.epub", story_dir=tmp_path / "story", epub_mode="tree")
    _assert_ace_clean(epub, tmp_path / "ace")


def test_comic_epub_metadata_alt_text_and_nav(tmp_path: Path) -> None:
    plan = load_plan(MAVKA)
    epub = _comic_epub(plan, tmp_path / "run", cover=True)
    opf = _read(epub, ".opf")
    assert re.search(r'<package [^>]*xml:lang="uk"', opf)
    for prop in ("accessMode", "accessModeSufficient", "accessibilityFeature", "accessibilityHazard"):
        assert f'<meta property="schema:{prop}">' in opf, prop
    assert re.search(r'<meta property="schema:accessibilitySummary">[^<]*[а-яі]', opf)  # in Ukrainian
    assert "dc:creator" not in opf  # no author given: none written
    # page 2 of the plan is the third image (after the cover): its lettering, panel by panel
    page2 = _read(epub, "page-003.xhtml")
    alt = re.search(r'alt="([^"]*)"', page2)
    assert alt is not None
    _, page = next((ch, p) for ch, p in plan.pages() if p.page_number == 2)
    expected = page_alt_text(plan, page)
    assert alt.group(1) == expected.replace("&", "&amp;")
    assert expected.startswith("Сторінка 2. Панель 1. Оксана: «Я Оксана з Яворова.")
    assert "Лісовик: «Люди беруть" in expected and "Напис: «Ліс затих, ніби прислухався.»" in expected
    spoken = [line.text for panel in sorted(page.panels, key=lambda p: p.position) for line in panel.dialogue]
    positions = [expected.index(text) for text in spoken]
    assert positions == sorted(positions)  # reading order
    assert "page" not in expected.lower()  # no English label in a Ukrainian book
    assert "Обкладинка: Мавка і лісовий дух." in _read(epub, "page-001.xhtml")


def test_nav_has_an_entry_per_chapter_and_page(tmp_path: Path) -> None:
    data = plan_dict(("grid-2x2", "three-rows", "grid-2x2"), plan_id="two-chapters")
    pages = data["chapters"][0]["pages"]
    data["chapters"] = [
        {"id": "ch1", "title": "First <chapter>", "pages": pages[:1]},
        {"id": "ch2", "title": "Second", "pages": pages[1:]},
    ]
    epub = _comic_epub(parse_plan(data), tmp_path / "run")
    nav = _read(epub, "nav.xhtml")
    entries = re.findall(r'<a href="(page-\d+\.xhtml)">([^<]*)</a>', nav)
    assert entries == [
        ("page-001.xhtml", "First &lt;chapter&gt;"),
        ("page-001.xhtml", "Page 1"),
        ("page-002.xhtml", "Second"),
        ("page-002.xhtml", "Page 2"),
        ("page-003.xhtml", "Page 3"),
    ]
    # the English book's alt text: English labels, the speaker's name, the SFX
    alt = re.search(r'alt="([^"]*)"', _read(epub, "page-001.xhtml"))
    assert alt is not None
    assert alt.group(1).startswith("Page 1. Panel 1. Caption: “Later that night.” Ann: “Line 1.1”")
    assert "Panel 2. Ann: “Line 1.2” Sound: “BANG!”" in alt.group(1)
