"""The author of the PDF (``/Author``), EPUB (``dc:creator``) and CBZ (``Writer``): the plan's,
else the ``author`` setting, else none at all (no "anonymous", no "storybench")."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from export_renders import make_story, settings
from export_validators import module
from PIL import Image
from plan_factory import plan_dict

from storybench.batch import render_plan
from storybench.compose.pdf import export_pdf
from storybench.plan import parse_plan
from storybench.story.epub import story_epub_bytes


def _opf(epub: Path) -> str:
    with zipfile.ZipFile(epub) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith(".opf"))).decode("utf-8")


def test_pdf_without_author_or_subject_leaves_them_out(tmp_path: Path) -> None:
    pypdf = module("pypdf")
    Image.new("RGB", (60, 80), "white").save(tmp_path / "p.png")
    bare = pypdf.PdfReader(export_pdf([tmp_path / "p.png"], tmp_path / "a.pdf", title="T")).metadata
    assert "/Author" not in bare and "/Subject" not in bare and "/Keywords" not in bare
    assert bare["/Title"] == "T" and bare["/Creator"] == "storybench"
    named = pypdf.PdfReader(export_pdf([tmp_path / "p.png"], tmp_path / "b.pdf", author="Ann", subject="S")).metadata
    assert named["/Author"] == "Ann" and named["/Subject"] == "S"


@pytest.mark.parametrize(
    ("plan_author", "setting", "expected"),
    [("", "", None), ("", "Set Author", "Set Author"), ("Plan Author", "Set", "Plan Author")],
)
def test_comic_exports_take_the_plan_author_then_the_setting(
    plan_author: str, setting: str, expected: str | None, tmp_path: Path
) -> None:
    pypdf = module("pypdf")
    data = plan_dict(plan_id="author-test")
    if plan_author:
        data["author"] = plan_author
    plan = parse_plan(data)
    s = settings(exports=["pdf", "epub", "cbz"], author=setting)
    summary = render_plan(plan, backend="storyboard", output_dir=tmp_path, settings=s, progress=False)
    assert summary.status == "completed", summary.errors
    assert summary.pdf is not None and summary.epub is not None and summary.cbz is not None
    meta = pypdf.PdfReader(summary.pdf).metadata
    opf = _opf(summary.epub)
    with zipfile.ZipFile(summary.cbz) as zf:
        comic_info = zf.read("ComicInfo.xml").decode("utf-8")
    if expected is None:
        assert "/Author" not in meta and "dc:creator" not in opf and "<Writer>" not in comic_info
        assert "storybench</dc:creator>" not in opf
    else:
        assert meta["/Author"] == expected and f">{expected}</dc:creator>" in opf
        assert f"<Writer>{expected}</Writer>" in comic_info


def test_plan_author_is_left_out_of_the_plan_json_when_empty() -> None:
    plain = parse_plan(plan_dict())
    assert "author" not in plain.to_json_dict()
    named = parse_plan({**plan_dict(), "author": "Ann"})
    assert named.to_json_dict()["author"] == "Ann" and named.sha256() != plain.sha256()


def test_story_epub_without_author_has_no_creator(tmp_path: Path) -> None:
    out = tmp_path / "s.epub"
    out.write_bytes(story_epub_bytes(make_story(tmp_path / "story"), story_dir=tmp_path / "story"))
    assert "dc:creator" not in _opf(out)
