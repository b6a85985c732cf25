"""PDF exports checked with qpdf, poppler's pdftotext and pypdf: structure, the invisible
text layer (every balloon, caption and SFX, Cyrillic included), metadata, /Lang,
right-to-left viewer preference, lossless pages and the quality setting."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from export_renders import CASES, rendered, settings
from export_validators import module, need
from PIL import Image, ImageChops

from storybench.compose import page_lettering
from storybench.compose.pdf import export_pdf


def _pypdf():
    return module("pypdf")


def _filters(xobject) -> list[str]:
    f = xobject["/Filter"]
    return [str(x) for x in f] if isinstance(f, list) else [str(f)]


def _lettering_by_page(case: str) -> list[list[str]]:
    plan, summary = rendered(case)
    s = settings(reading_direction="ltr" if case == "manga_ltr" else "auto")
    texts = [[item.text for item in page_lettering(plan, page, s)] for _, page in plan.pages()]
    if summary.cover is not None:
        texts.insert(0, [plan.title.replace("\x07", "")])
    return texts


@pytest.mark.parametrize("case", CASES)
def test_qpdf_finds_no_error(case: str) -> None:
    qpdf = need("qpdf")
    _, summary = rendered(case)
    proc = subprocess.run([qpdf, "--check", str(summary.pdf)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors found" in proc.stdout


@pytest.mark.parametrize("case", CASES)
def test_pdftotext_finds_every_lettered_text_on_its_page(case: str) -> None:
    pdftotext = need("pdftotext")
    _, summary = rendered(case)
    for number, texts in enumerate(_lettering_by_page(case), 1):
        proc = subprocess.run(
            [pdftotext, "-f", str(number), "-l", str(number), "-enc", "UTF-8", str(summary.pdf), "-"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        flat = " ".join(proc.stdout.split())
        for text in texts:
            assert " ".join(text.split()) in flat, (number, text, proc.stdout)


@pytest.mark.parametrize("case", CASES)
def test_pypdf_extracts_the_same_text(case: str) -> None:
    pypdf = _pypdf()
    _, summary = rendered(case)
    reader = pypdf.PdfReader(str(summary.pdf))
    pages = _lettering_by_page(case)
    assert len(reader.pages) == len(pages)
    for page, texts in zip(reader.pages, pages, strict=True):
        flat = " ".join(page.extract_text().split())
        for text in texts:
            assert " ".join(text.split()) in flat


def test_manga_has_cyrillic_text_and_reads_right_to_left() -> None:
    pypdf = _pypdf()
    _, summary = rendered("manga")
    reader = pypdf.PdfReader(str(summary.pdf))
    text = reader.pages[0].extract_text()
    assert "Де маяк, Анно?" in " ".join(text.split()) and "БАХ!" in text
    assert reader.trailer["/Root"]["/ViewerPreferences"]["/Direction"] == "/R2L"
    assert reader.trailer["/Root"]["/Lang"] == "uk"


@pytest.mark.parametrize("case", ["ltr", "manga_ltr", "cover"])
def test_left_to_right_pdfs_have_no_r2l(case: str) -> None:
    pypdf = _pypdf()
    _, summary = rendered(case)
    root = pypdf.PdfReader(str(summary.pdf)).trailer["/Root"]
    prefs = root.get("/ViewerPreferences")
    assert prefs is None or prefs.get("/Direction") != "/R2L"
    assert b"/R2L" not in Path(summary.pdf).read_bytes()


def test_document_information() -> None:
    pypdf = _pypdf()
    plan, summary = rendered("manga")
    reader = pypdf.PdfReader(str(summary.pdf))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == plan.title and meta.author == "Ann Writer"
    assert meta.subject.startswith(plan.title)


def test_pages_are_lossless_by_default() -> None:
    pypdf = _pypdf()
    _, summary = rendered("ltr")
    reader = pypdf.PdfReader(str(summary.pdf))
    for page, png in zip(reader.pages, summary.pages, strict=True):
        (image,) = page.images
        assert image.image.mode == "RGB"
        xobject = next(iter(page["/Resources"]["/XObject"].values())).get_object()
        assert _filters(xobject) == ["/FlateDecode"]
        with Image.open(png) as original:
            assert ImageChops.difference(image.image, original.convert("RGB")).getbbox() is None


def test_quality_setting_stores_jpeg_and_shrinks_the_file(tmp_path: Path) -> None:
    pypdf = _pypdf()
    _, summary = rendered("ltr")
    lossless = export_pdf(summary.pages, tmp_path / "a.pdf", dpi=100)
    small = export_pdf(summary.pages, tmp_path / "b.pdf", dpi=100, quality=60)
    xobject = next(iter(pypdf.PdfReader(str(small)).pages[0]["/Resources"]["/XObject"].values())).get_object()
    assert _filters(xobject) == ["/DCTDecode"]
    assert small.stat().st_size < lossless.stat().st_size
    with pytest.raises(ValueError, match="quality"):
        export_pdf(summary.pages, tmp_path / "c.pdf", quality=0)


def test_page_size_follows_dpi(tmp_path: Path) -> None:
    pypdf = _pypdf()
    image = Image.new("RGB", (300, 600), "white")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    (tmp_path / "p.png").write_bytes(buf.getvalue())
    pdf = export_pdf([tmp_path / "p.png"], tmp_path / "p.pdf", dpi=150)
    box = pypdf.PdfReader(str(pdf)).pages[0].mediabox
    assert (float(box.width), float(box.height)) == (144.0, 288.0)
