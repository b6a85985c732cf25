"""The story explorer in JupyterLab with the embedded backends (SmolLM2 through llama.cpp,
the storyboard renderer), clicked as a writer clicks it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Lab, open_and_run_all, show
from storybench.story import load_story

pytestmark = pytest.mark.slow

LLM_WAIT = 420_000  # ms: the tiny model on a shared CI machine

# click, then resolve with the milliseconds until the segment text changed and shows no cursor
CLICK_AND_TIME = """async (selector) => {
  const text = () => document.querySelector('.sb-story-text').innerText;
  const before = text();
  const button = document.querySelector(selector);
  const t0 = performance.now();
  button.click();
  return await new Promise((resolve) => {
    const check = () => {
      const now = text();
      if (now !== before && now.trim() && !document.querySelector('.sb-story-text .sb-story-cursor')) {
        resolve(performance.now() - t0);
        return true;
      }
      return false;
    };
    if (check()) return;
    const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
    obs.observe(document.body, {subtree: true, childList: true, characterData: true});
    setTimeout(() => { obs.disconnect(); resolve(-1); }, 30000);
  });
}"""

# after a Stop click: sample the text length every 50 ms for 3 s; resolve with the time it last grew
# (the final redraw without the cursor, and the clean-up of the kept text, only make it shorter)
STOP_AND_WATCH = """async () => {
  const len = () => document.querySelector('.sb-story-text').innerText.length;
  const t0 = performance.now();
  document.querySelector('.sb-story-stop').click();
  let most = len(), lastGrowth = 0;
  while (performance.now() - t0 < 3000) {
    await new Promise((r) => setTimeout(r, 50));
    const n = len();
    if (n > most) { most = n; lastGrowth = performance.now() - t0; }
  }
  return lastGrowth;
}"""


def _choices(page) -> list[str]:
    return [b.inner_text() for b in page.locator(".sb-story-choice").all()]


def _start(page, premise: str, shots, name: str) -> None:
    box = page.locator(".sb-story-premise textarea")
    if not box.is_visible():
        page.locator(
            ".sb-story-settings-box .lm-AccordionPanel-title, .sb-story-settings-box .p-Collapse-header, "
            ".sb-story-settings-box .jupyter-widget-Collapse-header"
        ).first.click()
    box.fill(premise)
    box.blur()
    page.locator(".sb-story-start").click()
    page.wait_for_selector(".sb-story-text .sb-story-cursor", timeout=LLM_WAIT)
    shots(f"{name}-streaming")
    page.wait_for_selector(".sb-story-choice", timeout=LLM_WAIT)
    page.wait_for_function("() => !document.querySelector('.sb-story-start').disabled", timeout=LLM_WAIT)
    shots(f"{name}-choices")


def test_explorer_scenario(lab: Lab, page) -> None:
    pg, shots = page
    open_and_run_all(pg, lab, "story_explorer.ipynb")
    show(pg, ".sb-story-explorer")
    shots("explorer")
    assert "tiny test model" in pg.locator(".sb-story-builtin-note").inner_text()

    _start(pg, "The lighthouse keeper waits for a ship", shots, "a")
    assert len(_choices(pg)) >= 2
    first_a = pg.locator(".sb-story-text p").first.inner_text()

    # the prefetcher writes the choices' continuations while the writer reads
    ready = pg.wait_for_selector(".sb-story-choice-ready", timeout=LLM_WAIT)
    shots("a-choice-prefetched")
    choice_text = ready.inner_text().split(". ", 1)[-1]
    number = next(
        c
        for c in (ready.get_attribute("class") or "").split()
        if c.startswith("sb-story-choice-") and c.rsplit("-", 1)[1].isdigit()
    )
    ms = pg.evaluate(CLICK_AND_TIME, f".{number}")
    shots("a-prefetched-shown")
    print(f"prefetched choice: {ms:.0f} ms from the click to its whole text on the page")
    assert 0 <= ms <= 1000, f"prefetched choice took {ms} ms from the click to its text"
    assert choice_text.strip() in pg.locator(".sb-story-previous").inner_text()

    # Stop during a Regenerate: the text stops growing within 1 s and stays as an unfinished segment
    pg.wait_for_function("() => !document.querySelector('.sb-story-regenerate').disabled", timeout=LLM_WAIT)
    pg.locator(".sb-story-regenerate").click()
    pg.wait_for_selector(".sb-story-text .sb-story-cursor", timeout=LLM_WAIT)
    pg.wait_for_timeout(300)
    last_change = pg.evaluate(STOP_AND_WATCH)
    shots("a-stopped")
    print(f"Stop during Regenerate: the text last grew {last_change:.0f} ms after the click")
    assert last_change <= 1000, f"text still grew {last_change:.0f} ms after Stop"
    assert pg.locator(".sb-story-text .sb-story-cursor").count() == 0  # the stream ended
    pg.wait_for_selector(".sb-story-continue:not([disabled])", timeout=30_000)
    assert "Stopped before the end" in pg.locator(".sb-story-unfinished-note").inner_text()

    # Save: the story's own folder, named from its title; the status shows a link
    pg.locator(".sb-story-save").click()
    pg.wait_for_selector(".sb-story-status .sb-file-link", timeout=30_000)
    path_a = Path(pg.locator(".sb-story-path input").input_value())
    shots("a-saved")
    assert path_a.parent.name.startswith("the-lighthouse-keeper-waits-for-a-")  # title: the first six words
    assert path_a.is_relative_to(lab.outputs)

    # a second story, saved: its own folder, story A untouched
    _start(pg, "A robot learns to paint the sea", shots, "b")
    first_b = pg.locator(".sb-story-text p").first.inner_text()
    assert pg.locator(".sb-story-path input").input_value() == ""
    pg.locator(".sb-story-save").click()
    pg.wait_for_function(
        "() => document.querySelector('.sb-story-path input').value.includes('story.json')", timeout=30_000
    )
    path_b = Path(pg.locator(".sb-story-path input").input_value())
    shots("b-saved")
    assert path_b.parent != path_a.parent and path_b.parent.name.startswith("a-robot-learns-to-paint-the-")

    # both load back intact
    for path, first in ((path_a, first_a), (path_b, first_b)):
        story = load_story(path)
        assert story.roots()[0].text.split("\n\n")[0].strip()[:40] == first.strip()[:40]
        pg.locator(".sb-story-path input").fill(str(path))
        pg.locator(".sb-story-load").click()
        pg.wait_for_function(
            "(p) => document.querySelector('.sb-story-status').innerText.includes('Loaded') &&"
            " document.querySelector('.sb-story-status').innerText.includes(p)",
            arg=path.parent.name,
            timeout=30_000,
        )
        pg.wait_for_function(
            "(n) => document.querySelectorAll('.sb-story-node').length === n", arg=len(story.segments), timeout=30_000
        )
        shown = story.current.text.split("\n\n")[0].strip()[:30]
        assert shown in pg.locator(".sb-story-text").inner_text()  # the loaded story's current segment
    shots("b-loaded")
    a = load_story(path_a)
    assert a.settings.premise == "The lighthouse keeper waits for a ship" and any(
        s.unfinished for s in a.segments.values()
    )

    # Export Twee and HTML into the story's folder, shown as links
    for kind, ext in (("twee", "twee"), ("html", "html")):
        label = {"twee": "Twee 3 (Twine)", "html": "HTML"}[kind]
        pg.locator(".sb-story-export-kind select").select_option(label=label)
        pg.locator(".sb-story-export").click()
        pg.wait_for_function(
            "(e) => document.querySelector('.sb-story-status').innerText.includes('story.' + e)",
            arg=ext,
            timeout=30_000,
        )
        assert (path_b.parent / f"story.{ext}").is_file()
    shots("exported")
    twee = (path_b.parent / "story.twee").read_text(encoding="utf-8")
    assert ":: StoryData" in twee and json.loads(twee.split(":: StoryData", 1)[1].split("\n\n")[0])["ifid"]
