"""The explorer's World section and Context view in JupyterLab with the embedded tiny model
(issue 19, must-show 4): a world of three entries is imported by path, two of them are
keyed by words of the premise, a story is started, and the Context view shows the two
entries that fired, why, and the token count against the budget. axe-core checks the
page with both sections open."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_story_explorer_browser import KERNEL_WAIT, LLM_WAIT, UI_WAIT, _fill_premise, _idle

from conftest import Lab, open_and_run_all, run_axe, show
from storybench.plan import load_plan

pytestmark = pytest.mark.slow

SHOTS = Path(os.environ.get("STORYBENCH_MEMORY_SHOTS", "/work/wt/shots/memory"))
WORLD = {
    "entries": {
        "0": {
            "uid": 0,
            "key": ["lighthouse"],
            "comment": "The lighthouse",
            "content": "The lighthouse stands on a black cliff; its lamp has been dark for ten years.",
        },
        "1": {"uid": 1, "key": ["Marta"], "comment": "Marta", "content": "Marta is the keeper's sister, a sailor."},
        "2": {"uid": 2, "key": ["dragon"], "comment": "Dragon", "content": "No dragons live on this coast."},
    }
}


def test_world_and_context_view(lab: Lab, page, tmp_path: Path, axe_script: Path) -> None:
    pg, shots = page
    world_file = tmp_path / "coast-world.json"
    world_file.write_text(json.dumps(WORLD), encoding="utf-8")
    open_and_run_all(pg, lab, "story_explorer.ipynb")
    show(pg, ".sb-story-explorer")

    # open the World section and import the world file by its path
    header = pg.locator(".sb-story-world-box .sb-collapse-header")
    header.click()
    pg.wait_for_selector(".sb-story-world-path input", state="visible", timeout=KERNEL_WAIT)
    pg.locator(".sb-story-world-path input").fill(str(world_file))
    pg.locator(".sb-story-world-import").click()
    pg.wait_for_function("() => document.querySelectorAll('.sb-story-world-enabled').length === 3", timeout=KERNEL_WAIT)
    assert header.get_attribute("aria-expanded") == "true"
    note = pg.locator(".sb-story-author-note textarea")
    note.fill("Keep the tone quiet and eerie.")
    note.blur()
    show(pg, ".sb-story-world-box")
    shots("world-imported")

    # a story whose premise names the lighthouse and Marta
    _fill_premise(pg, "The lighthouse keeper waits for his sister Marta to come home")
    pg.locator(".sb-story-start").click()
    pg.wait_for_selector(".sb-story-choice", timeout=LLM_WAIT)
    _idle(pg)

    # the Context view: what the model received for this segment
    pg.locator(".sb-story-context-box .sb-collapse-header").click()
    pg.wait_for_function("() => document.querySelectorAll('.sb-story-context-fired').length === 2", timeout=UI_WAIT)
    fired = pg.locator(".sb-story-context-fired").all_inner_texts()
    tokens = pg.locator(".sb-story-context-tokens").inner_text()
    print(f"context view: {tokens}; fired: {fired}")
    assert fired[0].startswith("The lighthouse: key 'lighthouse'") and fired[1].startswith("Marta: key 'Marta'")
    assert tokens.startswith("Tokens: ") and " of " in tokens and "context window 2048" in tokens
    assert "Keep the tone quiet and eerie." in pg.locator(".sb-story-context-note").inner_text()
    assert "No dragons" not in pg.locator(".sb-story-context").inner_text()
    show(pg, ".sb-story-context-box")
    shot = shots("context-view")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SHOTS / "explorer-context-view.png")

    # a comic plan of this path, planned by the tiny model in the background, saved beside the story
    pg.locator(".sb-story-make-comic").click()
    pg.wait_for_function(
        "() => document.querySelector('.sb-story-comic-link').innerText.includes('comic-s001.json')",
        timeout=LLM_WAIT,
    )
    _idle(pg)
    link = pg.locator(".sb-story-comic-link a.sb-file-link")
    href = link.get_attribute("href") or ""
    plan_file = lab.root / href.split("/lab/tree/", 1)[1]
    assert plan_file.is_file() and plan_file.name == "comic-s001.json", href
    assert load_plan(plan_file).page_count() >= 1
    show(pg, ".sb-story-comic-row")
    shots("comic-plan-link")

    # accessibility with the World section and the Context view open
    axe = run_axe(pg, ".sb-story-explorer", axe_script)
    print(axe.summary("the story explorer with World and Context open"))
    assert not axe.blocking, axe.violations
