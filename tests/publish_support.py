"""Shared pieces of the publish tests: a random token, rendered runs, the platform fixture."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from plan_factory import plan_dict
from publish_platform import TestPlatform

from storybench.batch import render_plan
from storybench.config import RenderSettings
from storybench.files import atomic_write_json
from storybench.plan import load_plan

ROOT = Path(__file__).resolve().parent.parent
MAVKA = ROOT / "plans" / "mavka-forest-manga.json"
WORLD = "world-mavka"
#: small pages so renders stay quick
SMALL = RenderSettings(page_width=480, page_height=720, margin=16, gutter=8, border=2, panel_max_side=256, dpi=72)


def new_token() -> str:
    return "sbtok-" + secrets.token_hex(16)


def render_run(plan_path: Path, output_dir: Path, settings: RenderSettings = SMALL) -> Path:
    """Render a plan with the storyboard backend; returns the run folder."""
    summary = render_plan(
        load_plan(plan_path),
        backend="storyboard",
        output_dir=output_dir,
        settings=settings,
        plan_path=plan_path,
        progress=False,
    )
    assert summary.status == "completed", summary.errors
    return Path(summary.run_dir)


def write_plan(path: Path, pages: int, plan_id: str = "twelve-pages") -> Path:
    layouts = tuple("single" if n % 2 else "grid-2x2" for n in range(pages))
    atomic_write_json(path, plan_dict(layouts, plan_id=plan_id))
    return path


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = new_token()
    monkeypatch.setenv("STORYBENCH_PUBLISH_TOKEN", value)
    return value


@pytest.fixture
def platform(token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestPlatform]:
    with TestPlatform(token) as p:
        monkeypatch.setenv("STORYBENCH_PUBLISH_TARGET", p.target)
        monkeypatch.setenv("STORYBENCH_PUBLISH_PLATFORM", p.name)  # each test platform is its own deployment
        yield p


@pytest.fixture(scope="module")
def mavka_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storyboard render of plans/mavka-forest-manga.json (small pages), made once per module."""
    return render_run(MAVKA, tmp_path_factory.mktemp("outputs"))
