"""CBZ metadata checked by the real validators: ComicInfo.xml against the ComicInfo XSD that
comicbox ships (lxml) and by comicbox's own validation, the archive comment against
comicbox's ComicBookInfo schema, for an LTR plan, a manga plan, a manga plan rendered
``ltr`` and a plan with a cover."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime

import pytest
from export_renders import CASES, ltr_plan, manga_plan, rendered
from export_validators import comicinfo_xsd, module, need

from storybench.compose.comicinfo import COMICINFO_V2_ORDER, PageInfo, clean_xml_text, comic_info_xml, manga_value

EXPECTED_MANGA = {"ltr": "No", "manga": "YesAndRightToLeft", "manga_ltr": "Yes", "cover": "No"}


def _comicinfo(case: str) -> tuple[bytes, bytes, list[str]]:
    _, summary = rendered(case)
    assert summary.cbz is not None
    with zipfile.ZipFile(summary.cbz) as zf:
        return zf.read("ComicInfo.xml"), zf.comment, zf.namelist()


@pytest.mark.parametrize("case", CASES)
def test_comicinfo_is_valid_against_the_schema_comicbox_ships(case: str) -> None:
    from lxml import etree

    xml, _, _ = _comicinfo(case)
    schema = etree.XMLSchema(etree.parse(str(comicinfo_xsd())))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    names = [el.tag for el in doc]
    assert names == sorted(names, key=COMICINFO_V2_ORDER.index)  # only v2.0 elements, in its order


@pytest.mark.parametrize("case", CASES)
def test_comicbox_validates_comicinfo_and_the_comicbookinfo_comment(case: str) -> None:
    module("comicbox")
    from comicbox.box.validate import validate_source
    from comicbox.formats import MetadataFormats

    xml, comment, _ = _comicinfo(case)
    assert validate_source(xml, MetadataFormats.COMIC_INFO) is True
    assert validate_source(comment, MetadataFormats.COMIC_BOOK_INFO) is True
    info = json.loads(comment)["ComicBookInfo/1.0"]
    plan, _ = rendered(case)
    assert info["title"] == clean_xml_text(plan.title)
    assert info["credits"] == [{"person": "Ann Writer", "role": "Writer", "primary": True}]


def test_comicbox_command_line_validates_the_archive() -> None:
    comicbox = need("comicbox")
    _, summary = rendered("manga")
    proc = subprocess.run([comicbox, "--validate", str(summary.cbz)], capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ComicInfo: data validated" in out and "ComicBookInfo: data validated" in out
    assert "failed validation" not in out


def test_xmllint_accepts_comicinfo(tmp_path) -> None:
    xmllint = need("xmllint")
    xml, _, _ = _comicinfo("manga_ltr")
    (tmp_path / "ComicInfo.xml").write_bytes(xml)
    proc = subprocess.run(
        [xmllint, "--noout", "--schema", str(comicinfo_xsd()), str(tmp_path / "ComicInfo.xml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "validates" in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", CASES)
def test_manga_follows_the_direction_the_pages_were_rendered_in(case: str) -> None:
    xml, _, _ = _comicinfo(case)
    assert ET.fromstring(xml).findtext("Manga") == EXPECTED_MANGA[case]


@pytest.mark.parametrize("case", CASES)
def test_front_cover_only_on_a_real_cover(case: str) -> None:
    xml, _, names = _comicinfo(case)
    root = ET.fromstring(xml)
    pages = root.find("Pages")
    assert pages is not None
    types = [p.get("Type") for p in pages]
    images = sorted(n for n in names if n.endswith(".png"))
    assert len(types) == len(images) == int(root.findtext("PageCount") or 0)
    assert [p.get("Image") for p in pages] == [str(i) for i in range(len(images))]
    if case == "cover":
        assert types == ["FrontCover"] + ["Story"] * (len(types) - 1)
    else:
        assert "FrontCover" not in types and set(types) == {"Story"}


def test_values_are_escaped_and_control_characters_removed() -> None:
    plan = ltr_plan()  # title with \x07, <, >, &, "
    xml = comic_info_xml(plan, [PageInfo(10, 20)], author="A & B <c>\x01")
    root = ET.fromstring(xml)  # parses: escaped, no control characters
    assert root.findtext("Title") == 'Rain on <glass> & "steel"'
    assert root.findtext("Writer") == "A & B <c>"
    assert b"\x07" not in xml and b"\x01" not in xml


def test_manga_value_rules() -> None:
    manga, noir = manga_plan(), ltr_plan()
    assert manga_value(manga) == "YesAndRightToLeft"
    assert manga_value(manga, rtl=False) == "Yes"
    assert manga_value(noir) == "No"
    assert manga_value(noir, rtl=True) == "YesAndRightToLeft"


def test_comicinfo_dates_and_page_sizes() -> None:
    xml = comic_info_xml(
        manga_plan(), [PageInfo(100, 150, 1234, "FrontCover")], modified=datetime(2026, 1, 2, tzinfo=UTC)
    )
    root = ET.fromstring(xml)
    assert (root.findtext("Year"), root.findtext("Month"), root.findtext("Day")) == ("2026", "1", "2")
    page = root.find("Pages/Page")
    assert page is not None and page.attrib == {
        "Image": "0",
        "Type": "FrontCover",
        "ImageSize": "1234",
        "ImageWidth": "100",
        "ImageHeight": "150",
    }


def test_cover_is_composed_like_a_page_and_cached() -> None:
    from export_renders import settings

    from storybench.batch import render_plan

    plan, first = rendered("cover")
    assert first.cover is not None and first.cover.parent.name == "pages"
    again = render_plan(
        plan, backend="storyboard", output_dir=first.output_dir, settings=settings(cover=True), resume=False
    )
    assert again.run_id != first.run_id and again.cover is not None
    rows = [r for r in again.rows if r["kind"] == "cover"]
    assert len(rows) == 1 and rows[0]["cache_hit"] and rows[0]["status"] == "completed"
    assert again.cover.read_bytes() == first.cover.read_bytes()
