"""The engine with the real composer and the storyboard backend (skipped when absent)."""

from __future__ import annotations

import zipfile

import pytest
from engine_support import FakeBackend, make_plan, small_settings
from PIL import Image

from storybench.batch import Composer, read_catalog, render_plan


def need_compose():
    compose = pytest.importorskip("storybench.compose")
    if not hasattr(compose, "compose_page"):
        pytest.skip("storybench.compose is not complete here")


def test_real_composer_with_fake_backend(tmp_path):
    need_compose()
    settings = small_settings(page_width=600, page_height=900, dpi=100)
    summary = render_plan(make_plan(), backend=FakeBackend(), output_dir=tmp_path, settings=settings, progress=False)
    assert summary.ok, summary
    for page in summary.pages:
        with Image.open(page) as img:
            assert img.size == (600, 900)
    assert summary.pdf.read_bytes().startswith(b"%PDF")
    with zipfile.ZipFile(summary.cbz) as zf:
        assert len([n for n in zf.namelist() if n.lower().endswith(".png")]) == 3
    again = render_plan(make_plan(), backend=FakeBackend(), output_dir=tmp_path, settings=settings, progress=False)
    assert again.counts.pages_cached == 3 and again.counts.exports_cached == 2
    assert Composer.default().version


def test_storyboard_backend_end_to_end(tmp_path):
    need_compose()
    pytest.importorskip("storybench.render.storyboard")
    settings = small_settings(page_width=600, page_height=900, dpi=100, panel_max_side=256)
    summary = render_plan(
        make_plan(layouts=("grid-2x2", "single")),
        backend="storyboard",
        output_dir=tmp_path,
        settings=settings,
        progress=False,
    )
    assert summary.ok, summary
    df = read_catalog(tmp_path)
    panels = df[df.kind == "panel"]
    assert len(panels) == 5 and (panels.backend == "storyboard").all()
    for path in panels.path:
        with Image.open(tmp_path / path) as img:
            img.load()
