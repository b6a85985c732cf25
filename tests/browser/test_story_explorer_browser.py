"""The story explorer in JupyterLab with the embedded backends (SmolLM2 through llama.cpp,
the storyboard renderer), clicked as a writer clicks it.

Waits are derived from what is waited for: anything the kernel does while the tiny
model may be writing (a segment, a prefetch, an illustration prompt) gets the budget
of one segment on a loaded machine (``LLM_WAIT``), because the kernel's main thread
shares two cores with llama.cpp; changes made by the browser alone get ``UI_WAIT``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Lab, open_and_run_all, run_axe, show
from storybench.story import load_story

pytestmark = pytest.mark.slow

LLM_WAIT = 420_000  # ms: one segment of the tiny model on a shared, loaded CI machine
KERNEL_WAIT = LLM_WAIT  # ms: a kernel action (save, load, export) may queue behind a generating thread
UI_WAIT = 10_000  # ms: a change the browser makes alone (a class, a focus)

# click, then resolve with the milliseconds until the segment text changed and shows no cursor
CLICK_AND_TIME = """async ([selector, limit]) => {
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
    setTimeout(() => { obs.disconnect(); resolve(-1); }, limit);
  });
}"""

# resolve when `ready` (a CSS selector) is on the page, then click `target` at once and resolve with
# {after: ms from `ready` to the click, first: ms from the click to the first streamed text}
FIRST_TEXT = """async ([ready, target, limit]) => {
  const until = (test) => new Promise((resolve) => {
    if (test()) { resolve(performance.now()); return; }
    const obs = new MutationObserver(() => { if (test()) { obs.disconnect(); resolve(performance.now()); } });
    obs.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    setTimeout(() => { obs.disconnect(); resolve(-1); }, limit);
  });
  const shownAt = ready ? await until(() => document.querySelector(ready)) : performance.now();
  const targets = document.querySelectorAll(target);
  const button = targets[targets.length - 1];
  const t0 = performance.now();
  button.click();
  const first = await until(() => document.querySelector('.sb-story-text .sb-story-cursor'));
  return {after: t0 - shownAt, first: first < 0 ? -1 : first - t0};
}"""

# after a Stop click: sample the text length every 50 ms for 3 s; resolve with the time it last grew
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

# the box of an illustration's placeholder and of a 768x512 illustration, in the explorer's image slot
IMAGE_BOXES = """async () => {
  const widget = document.querySelector('.sb-story-image');
  const slot = widget.querySelector('.widget-html-content') || widget;
  const box = (el) => { slot.appendChild(el); const r = el.getBoundingClientRect(); el.remove();
                        return [Math.round(r.width), Math.round(r.height)]; };
  const holder = document.createElement('div');
  holder.className = 'sb-story-placeholder sb-story-image-pending';
  holder.innerHTML = "<div class='sb-story-spinner' aria-hidden='true'></div>Illustration waiting…";
  const canvas = document.createElement('canvas');
  canvas.width = 768; canvas.height = 512;
  const img = document.createElement('img');
  img.className = 'sb-story-thumb';
  img.src = canvas.toDataURL();
  await img.decode();
  return [box(holder), box(img)];
}"""

IN_VIEW = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }"""


def _words(text: str) -> str:
    return " ".join(text.split())


def _choices(page) -> list[str]:
    return [b.inner_text() for b in page.locator(".sb-story-choice").all()]


def _open_settings(page) -> None:
    """Open the settings section with the keyboard, as a keyboard-only writer does."""
    if page.locator(".sb-story-premise textarea").is_visible():
        return
    header = page.locator(".sb-story-settings-box .sb-collapse-header")
    assert header.get_attribute("aria-expanded") == "false"
    header.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".sb-story-premise textarea", state="visible", timeout=KERNEL_WAIT)
    page.wait_for_function(
        "() => document.querySelector('.sb-story-settings-box .sb-collapse-header')"
        ".getAttribute('aria-expanded') === 'true'",
        timeout=UI_WAIT,
    )


def _fill_premise(page, premise: str) -> None:
    _open_settings(page)
    box = page.locator(".sb-story-premise textarea")
    box.fill(premise)
    box.blur()


def _idle(page) -> None:
    page.wait_for_function("() => !document.querySelector('.sb-story-start').disabled", timeout=LLM_WAIT)


def _start(page, premise: str, shots, name: str) -> None:
    _fill_premise(page, premise)
    page.locator(".sb-story-start").click()
    page.wait_for_selector(".sb-story-text .sb-story-cursor", timeout=LLM_WAIT)
    shots(f"{name}-streaming")
    page.wait_for_selector(".sb-story-choice", timeout=LLM_WAIT)
    _idle(page)
    shots(f"{name}-choices")


def _save(page) -> Path:
    before = page.locator(".sb-story-path input").input_value()
    page.locator(".sb-story-save").click()
    page.wait_for_function(
        "(b) => { const v = document.querySelector('.sb-story-path input').value;"
        " return v !== b && v.includes('story.json'); }",
        arg=before,
        timeout=KERNEL_WAIT,
    )
    page.wait_for_selector(".sb-story-status .sb-file-link", timeout=KERNEL_WAIT)
    return Path(page.locator(".sb-story-path input").input_value())


def test_explorer_scenario(lab: Lab, page, axe_script: Path) -> None:
    pg, shots = page
    open_and_run_all(pg, lab, "story_explorer.ipynb")
    show(pg, ".sb-story-explorer")
    shots("explorer")
    assert "tiny test model" in pg.locator(".sb-story-builtin-note").inner_text()
    assert "storybench models" in pg.locator(".sb-story-builtin-note").inner_text()

    # story A; a choice clicked right after the choices appear (not written ahead: the prefetch
    # waits for the illustration, whose prompt the LLM is writing then) starts at once
    _fill_premise(pg, "The lighthouse keeper waits for a ship")
    pg.locator(".sb-story-start").click()
    pg.wait_for_selector(".sb-story-text .sb-story-cursor", timeout=LLM_WAIT)
    shots("a-streaming")
    click = pg.evaluate(FIRST_TEXT, [".sb-story-choice:not([disabled])", ".sb-story-choice", LLM_WAIT])
    shots("a-clicked-at-once")
    assert click["first"] > 0 and 0 <= click["after"] <= 1000, click
    pg.wait_for_selector(".sb-story-choice:not([disabled])", timeout=LLM_WAIT)
    _idle(pg)
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
    ms = pg.evaluate(CLICK_AND_TIME, [f".{number}", LLM_WAIT])
    shots("a-prefetched-shown")
    print(f"prefetched choice: {ms:.0f} ms from the click to its whole text on the page")
    assert 0 <= ms <= 1000, f"prefetched choice took {ms} ms from the click to its text"
    assert choice_text.strip() in pg.locator(".sb-story-previous").inner_text()

    # Stop during a Regenerate: the text stops growing within 1 s and stays as an unfinished segment
    # (the tiny model sometimes writes a whole short segment before the Stop arrives: then again)
    for attempt in range(3):
        pg.wait_for_function("() => !document.querySelector('.sb-story-regenerate').disabled", timeout=LLM_WAIT)
        pg.locator(".sb-story-regenerate").click()
        pg.wait_for_selector(".sb-story-text .sb-story-cursor", timeout=LLM_WAIT)
        pg.wait_for_timeout(300)
        last_change = pg.evaluate(STOP_AND_WATCH)
        shots(f"a-stopped-{attempt}")
        print(f"Stop during Regenerate: the text last grew {last_change:.0f} ms after the click")
        assert last_change <= 1000, f"text still grew {last_change:.0f} ms after Stop"
        assert pg.locator(".sb-story-text .sb-story-cursor").count() == 0  # the stream ended
        _idle(pg)
        if pg.locator(".sb-story-continue:not([disabled])").count():
            break
    pg.wait_for_selector(".sb-story-continue:not([disabled])", timeout=KERNEL_WAIT)
    assert "Stopped before the end" in pg.locator(".sb-story-unfinished-note").inner_text()

    # Save: the story's own folder, named from its premise; the status shows a JupyterLab link
    # (the kernel runs in notebooks/: the server root comes from the running server)
    path_a = _save(pg)
    shots("a-saved")
    assert path_a.parent.name.startswith("the-lighthouse-keeper-waits-for-a-")
    assert path_a.is_relative_to(lab.outputs)
    href = pg.locator(".sb-story-status .sb-file-link").get_attribute("href") or ""
    assert href.endswith(path_a.relative_to(lab.root).as_posix()) and "/lab/tree/" in href

    # story B, warm: the first text of a Start, against the first text after the click above
    _fill_premise(pg, "A robot learns to paint the sea")
    warm = pg.evaluate(FIRST_TEXT, ["", ".sb-story-start", LLM_WAIT])
    pg.wait_for_selector(".sb-story-choice:not([disabled])", timeout=LLM_WAIT)
    _idle(pg)
    shots("b-choices")
    ratio = click["first"] / warm["first"]
    print(
        f"first text: {click['first']:.0f} ms after a click {click['after']:.0f} ms after the choices appeared"
        f" (not prefetched), {warm['first']:.0f} ms after a warm Start: ratio {ratio:.2f} (target <= 1.5)"
    )
    # The target (<= 1.5) is printed above and measured by bench/bench_click.py (a speed
    # target is not a timed test). The click continues the opening's transcript, whose next turn's
    # head was evaluated before the choices showed: 0.4-0.8x a warm Start. What must never come
    # back is a click queued behind a background prompt (once 6x a warm Start).
    assert ratio <= 4.0, f"the click waited {ratio:.2f}x as long as a warm Start: queued behind background work?"
    first_b = pg.locator(".sb-story-text p").first.inner_text()
    assert pg.locator(".sb-story-path input").input_value() == ""
    path_b = _save(pg)
    shots("b-saved")
    assert path_b.parent != path_a.parent and path_b.parent.name.startswith("a-robot-learns-to-paint-the-")

    # Save over story A's file: the question opens in view, focused, and the status says so
    id_a = load_story(path_a).id  # (story A's own late work, its title or an image, may still change its file)
    pg.locator(".sb-story-path input").fill(str(path_a))
    pg.locator(".sb-story-save").click()
    pg.wait_for_selector(".sb-story-pending-overwrite", state="visible", timeout=KERNEL_WAIT)
    pg.wait_for_function(
        "() => document.activeElement && document.activeElement.classList.contains('sb-story-pending-overwrite')",
        timeout=UI_WAIT,
    )
    assert pg.evaluate(IN_VIEW, ".sb-story-pending")
    assert "an answer is needed" in pg.locator(".sb-story-status").inner_text()
    assert pg.locator(".sb-story-pending [role=alert]").count() == 1
    shots("overwrite-question")
    pg.keyboard.press("Tab")  # the focus is on Overwrite: Tab goes to "Save as new", Tab again to Cancel
    pg.keyboard.press("Tab")
    pg.keyboard.press("Enter")
    pg.wait_for_function("() => document.querySelector('.sb-story-pending').offsetParent === null", timeout=KERNEL_WAIT)
    assert load_story(path_a).id == id_a and "Not saved" in pg.locator(".sb-story-status").inner_text()

    # both load back intact: A by its path, B from the library of saved stories
    story_a = load_story(path_a)
    # (the shown first paragraph may be shorter than 40 characters: compare it as a prefix)
    assert any(_words(seg.text).startswith(_words(first_a)[:40]) for seg in story_a.segments.values()), first_a
    pg.locator(".sb-story-path input").fill(str(path_a))
    pg.locator(".sb-story-load").click()
    pg.wait_for_function(
        "(p) => document.querySelector('.sb-story-status').innerText.includes('Loaded') &&"
        " document.querySelector('.sb-story-status').innerText.includes(p)",
        arg=path_a.parent.name,
        timeout=KERNEL_WAIT,
    )
    pg.wait_for_function(
        "(n) => document.querySelectorAll('.sb-story-node').length === n",
        arg=len(story_a.segments),
        timeout=KERNEL_WAIT,
    )
    assert story_a.current.text.split("\n\n")[0].strip()[:30] in pg.locator(".sb-story-text").inner_text()
    pg.locator(".sb-story-library .sb-collapse-header").click()
    pg.wait_for_function("() => document.querySelectorAll('.sb-story-library-entry').length === 2", timeout=KERNEL_WAIT)
    show(pg, ".sb-story-library")
    shots("library")
    entries = [e.inner_text() for e in pg.locator(".sb-story-library-entry").all()]
    assert any("A robot learns to paint the sea" in e for e in entries)
    assert any("The lighthouse keeper waits for a ship" in e for e in entries)
    story_b = load_story(path_b)
    pg.locator(".sb-story-library-entry", has_text="A robot learns to paint").click()
    pg.wait_for_function(
        "(p) => document.querySelector('.sb-story-status').innerText.includes(p)",
        arg=path_b.parent.name,
        timeout=KERNEL_WAIT,
    )
    assert _words(story_b.roots()[0].text).startswith(_words(first_b)[:40]), first_b
    pg.wait_for_function(
        "(t) => document.querySelector('.sb-story-text').innerText.includes(t)",
        arg=story_b.current.text.split("\n\n")[0].strip()[:30],
        timeout=KERNEL_WAIT,
    )
    a = load_story(path_a)
    assert a.settings.premise == "The lighthouse keeper waits for a ship" and any(
        s.unfinished for s in a.segments.values()
    )

    # a failed Start (Ollama without a server) keeps story B on screen and says what to do
    text_b = pg.locator(".sb-story-text").inner_text()
    _fill_premise(pg, "A third story that cannot start")
    pg.locator(".sb-story-llm select").select_option("ollama")
    pg.locator(".sb-story-start").click()
    pg.wait_for_selector(".sb-story-error", timeout=KERNEL_WAIT)
    _idle(pg)
    error = pg.locator(".sb-story-error").inner_text()
    show(pg, ".sb-story-start-row")
    shots("failed-start")
    assert error.startswith("⚠ Start failed") and "storybench models" in error and "kept" in error
    assert pg.locator(".sb-story-error[role=alert]").count() == 1
    assert pg.locator(".sb-story-text").inner_text() == text_b and len(_choices(pg)) >= 2
    assert not pg.locator(".sb-story-save").is_disabled() and not pg.locator(".sb-story-export").is_disabled()
    pg.locator(".sb-story-llm select").select_option("llamacpp")

    # Export Twee and HTML into the story's folder: every file of the story listed as a link
    for kind, ext in (("twee", "twee"), ("html", "html")):
        label = {"twee": "Twee 3 (Twine)", "html": "HTML"}[kind]
        pg.locator(".sb-story-export-kind select").select_option(label=label)
        pg.locator(".sb-story-export").click()
        pg.wait_for_function(
            "(e) => document.querySelector('.sb-story-status').innerText.includes('story.' + e)",
            arg=ext,
            timeout=KERNEL_WAIT,
        )
        assert (path_b.parent / f"story.{ext}").is_file()
    written = pg.locator(".sb-story-files-written .sb-file-link").all_inner_texts()
    shots("exported")
    assert written == ["story.twee", "story.html"], written
    twee = (path_b.parent / "story.twee").read_text(encoding="utf-8")
    assert ":: StoryData" in twee and json.loads(twee.split(":: StoryData", 1)[1].split("\n\n")[0])["ifid"]

    # accessibility: axe-core on the explorer after a story with branches
    axe = run_axe(pg, ".sb-story-explorer", axe_script)
    print(axe.summary("the story explorer after a story with a branch"))
    assert not axe.blocking, axe.violations
    focus_ring = pg.evaluate(
        "() => { const b = document.querySelector('.sb-story-regenerate'); b.focus();"
        " const s = getComputedStyle(b); return [s.outlineWidth, s.outlineStyle, s.outlineColor]; }"
    )
    print(f"focus ring: {focus_ring}")
    assert float(focus_ring[0].removesuffix("px")) >= 2 and focus_ring[1] == "solid"

    # the illustration takes the box its placeholder held: nothing below it moves when it arrives
    boxes = pg.evaluate(IMAGE_BOXES)
    print(f"placeholder box {boxes[0]}, illustration box {boxes[1]}")
    assert boxes[0] == boxes[1] and boxes[0][0] > 0, boxes
