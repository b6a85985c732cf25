"""EPUB 3 exports checked by EPUBCheck: a played story (path taken, whole tree) and comics
(fixed layout, right-to-left page progression for manga)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from export_renders import make_story, rendered
from export_validators import run_epubcheck

from storybench.story.epub import story_epub_bytes
from storybench.story.export import export_story


def _verdict(path: Path) -> str:
    proc = run_epubcheck(path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert re.search(r"Messages: 0 fatals / 0 errors", out), out
    assert "No errors or warnings detected" in out, out
    return out


def _opf(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".opf"))
        return zf.read(name).decode("utf-8")


@pytest.mark.parametrize("mode", ["tree", "path"])
def test_story_epub_passes_epubcheck(mode: str, tmp_path: Path) -> None:
    story = make_story(tmp_path / "story")
    if mode == "path":  # and without illustrations: a title card is the cover
        for seg in story.segments.values():
            seg.image_status = "pending"
    epub = export_story(
        story, "epub", tmp_path / f"{mode}.epub", story_dir=tmp_path / "story", epub_mode=mode, author="Ann Writer"
    )
    _verdict(epub)
    opf = _opf(epub)
    assert "<dc:language>uk</dc:language>" in opf and "Ann Writer</dc:creator>" in opf
    assert "Маяк :: [[title]]</dc:title>" in opf and 'properties="cover-image"' in opf
    with zipfile.ZipFile(epub) as zf:
        sections = sorted(n for n in zf.namelist() if re.search(r"seg-s\d+\.xhtml$", n))
        first = zf.read(next(n for n in sections if n.endswith("seg-s001.xhtml"))).decode("utf-8")
    if mode == "path":  # the path taken: s001 then s002
        assert [Path(n).name for n in sections] == ["seg-s001.xhtml", "seg-s002.xhtml"]
    else:  # every segment, choices linked, alternatives linked, untaken choices marked
        assert [Path(n).name for n in sections] == ["seg-s001.xhtml", "seg-s002.xhtml", "seg-s003.xhtml"]
        # the mark of an untaken choice is in the story's language (Ukrainian here)
        assert 'href="seg-s002.xhtml"' in first and "ще не написано" in first and "not written yet" not in first
    assert "&lt;&lt;set $gold to 5&gt;&gt;" in first  # text, not markup


def test_story_epub_bytes_rejects_an_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        story_epub_bytes(make_story(tmp_path), mode="graph")


@pytest.mark.parametrize("case", ["manga", "cover"])
def test_comic_epub_passes_epubcheck(case: str) -> None:
    _, summary = rendered(case)
    assert summary.epub is not None
    _verdict(summary.epub)


@pytest.mark.parametrize("case", ["manga", "manga_ltr", "cover"])
def test_comic_epub_is_fixed_layout_one_page_per_spine_item(case: str) -> None:
    plan, summary = rendered(case)
    assert summary.epub is not None
    opf = _opf(summary.epub)
    assert '<meta property="rendition:layout">pre-paginated</meta>' in opf
    assert ('page-progression-direction="rtl"' in opf) == (case == "manga")
    assert f"<dc:language>{plan.language}</dc:language>" in opf and 'properties="cover-image"' in opf
    with zipfile.ZipFile(summary.epub) as zf:
        pages = sorted(n for n in zf.namelist() if re.search(r"page-\d+\.xhtml$", n))
        page = zf.read(pages[0]).decode("utf-8")
    expected = len(summary.pages) + (1 if summary.cover else 0)
    assert len(pages) == expected  # one page per spine item
    assert re.search(r'<meta name="viewport" content="width=500, height=773"', page)
