"""Comics rendered once per test session through the real pipeline (storyboard backend, small
pages) for the export tests: an LTR plan, a manga plan, the manga plan rendered ``ltr``,
and a plan with a cover — each with every export."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from PIL import Image
from plan_factory import plan_dict

from storybench.batch import RunSummary, render_plan
from storybench.config import RenderSettings
from storybench.plan import parse_plan
from storybench.plan.models import ComicPlan
from storybench.story.model import Segment, Story, StorySettings

#: Lettering of the manga plan, Cyrillic included.
MANGA_LINES = ["Де маяк, Анно?", "Тихо! Хтось іде.", "Їжак ґречно мовчить.", "Line in English", "Ще є час."]
CASES = ("ltr", "manga", "manga_ltr", "cover")


def manga_plan() -> ComicPlan:
    """A two-page manga plan lettered in Ukrainian (SFX and captions too)."""
    data = plan_dict(("grid-2x2", "manga-3"), style="manga", language="uk", plan_id="manga-test")
    data["title"] = "Маяк & <туман>"
    lines = iter(MANGA_LINES * 3)
    for page in data["chapters"][0]["pages"]:
        for panel in page["panels"]:
            panel["dialogue"] = [{"character": "char-1", "text": next(lines)}]
            if panel["narrative"]:
                panel["narrative"] = "Пізно вночі."
            if panel["sfx"]:
                panel["sfx"] = "БАХ!"
    return parse_plan(data)


def ltr_plan() -> ComicPlan:
    """A two-page noir plan (left to right)."""
    data = plan_dict(("grid-2x2", "three-rows"), style="noir", plan_id="ltr-test")
    data["title"] = 'Rain on <glass> & "steel"'  # XML specials
    # validation refuses control characters; exports must still survive one in a plan built in code
    return parse_plan(data).model_copy(update={"title": 'Rain \x07on <glass> & "steel"'})


def settings(**changes) -> RenderSettings:
    """Small pages with every export."""
    base = dict(
        page_width=500,
        page_height=773,
        dpi=100,
        margin=20,
        gutter=12,
        border=3,
        panel_max_side=128,
        exports=["pdf", "cbz", "epub", "webtoon"],
        author="Ann Writer",
    )
    base.update(changes)
    return RenderSettings(**base)


@cache
def rendered(case: str) -> tuple[ComicPlan, RunSummary]:
    """``(plan, summary)`` of one case of :data:`CASES`, rendered once."""
    out = Path(tempfile.mkdtemp(prefix=f"sb-export-{case}-"))
    if case == "ltr":
        plan, s = ltr_plan(), settings()
    elif case == "manga":
        plan, s = manga_plan(), settings()
    elif case == "manga_ltr":
        plan, s = manga_plan(), settings(reading_direction="ltr")
    elif case == "cover":
        plan, s = ltr_plan(), settings(cover=True)
    else:
        raise KeyError(case)
    summary = render_plan(plan, backend="storyboard", output_dir=out, settings=s, progress=False)
    assert summary.status == "completed", summary.errors
    return plan, summary


# -- a story for the story exports ------------------------------------------------------
HOSTILE = (
    "Перший рядок.\n:: not a passage\n\nHe wrote [[x]] and $var, then <<set $gold to 5>>, "
    "(set: $b to 2), _temp, ''bold'' and `ticks` ``double`` on the wall."
)
HOSTILE_PIECES = [":: not a passage", "[[x]]", "$var", "<<set $gold to 5>>", "(set: $b to 2)", "``double``"]


def make_story(folder: Path) -> Story:
    """A story with an image, a hostile segment, a taken and two untaken choices, and an alternative."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for n in (1, 2):
        Image.new("RGB", (32, 24), (40 * n, 90, 140)).save(folder / "images" / f"s00{n}.png")
    story = Story(settings=StorySettings(premise="Маяк у тумані", language="uk", title="Маяк :: [[title]]"))
    story.add(
        Segment(
            id="s001",
            text=HOSTILE,
            choices=["Відкрити лист", "Go -> up [now] $x", "Pick A|B <<run>>"],
            image_path="images/s001.png",
            image_status="done",
            illustration_prompt="a lighthouse <b>$x</b> [[y]]",
        )
    )
    story.add(
        Segment(
            id="s002",
            parent_id="s001",
            choice_index=0,
            choice_text="Відкрити лист",
            text="Лист пахне сіллю.",
            choices=["Далі"],
            image_path="images/s002.png",
            image_status="done",
        )
    )
    story.add(Segment(id="s003", parent_id="s001", choice_index=0, choice_text="Відкрити лист", text="Інша версія."))
    story.current_id = "s002"
    return story
