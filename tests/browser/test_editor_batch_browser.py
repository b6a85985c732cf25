"""The plan editor and the batch notebook in JupyterLab at 1280×800 with the file browser open."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import Lab, open_and_run_all, run_axe, show
from storybench.batch import read_catalog

pytestmark = pytest.mark.slow


class Waits:
    """Timeouts derived from what is waited for: a measured round trip of this kernel on this
    machine (a preview redraw: widget message, page composition, image back), times the number
    of round trips a step needs, never less than ``floor_s``. A loaded machine measures a
    slower round trip and so waits longer; nothing waits a fixed 30 s."""

    def __init__(self, round_trip_s: float) -> None:
        self.round_trip_s = round_trip_s

    def ms(self, trips: float = 10, floor_s: float = 5) -> int:
        return int(1000 * max(floor_s, trips * self.round_trip_s))


def _src(pg: object) -> str | None:
    return pg.locator(".sb-editor-preview img, img.sb-editor-preview").first.get_attribute("src")  # type: ignore[attr-defined]


def _measure_round_trip(pg: object, budget_ms: int) -> Waits:
    """Select page 2 and time the preview until its image changes; then back to page 1."""
    before = _src(pg)
    pg.locator(".sb-editor-page-select select").select_option(index=1)  # type: ignore[attr-defined]
    started = time.monotonic()
    pg.wait_for_function(  # type: ignore[attr-defined]
        "(b) => { const i = document.querySelector('.sb-editor-preview img, img.sb-editor-preview');"
        " return i && i.getAttribute('src') !== b; }",
        arg=before,
        timeout=budget_ms,
    )
    waits = Waits(time.monotonic() - started)
    second = _src(pg)
    pg.locator(".sb-editor-page-select select").select_option(index=0)  # type: ignore[attr-defined]
    pg.wait_for_function(  # type: ignore[attr-defined]
        "(b) => { const i = document.querySelector('.sb-editor-preview img, img.sb-editor-preview');"
        " return i && i.getAttribute('src') !== b; }",
        arg=second,
        timeout=waits.ms(),
    )
    print(f"preview round trip: {waits.round_trip_s:.2f} s")
    return waits


# the element is in the viewport and holds the focus (or contains it)
IN_VIEW_AND_FOCUSED = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  const inView = r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
  return inView && el.contains(document.activeElement);
}"""

# every widget row of the editor fits: no element scrolls sideways, no button label is cut
FIT_CHECK = """() => {
  const root = document.querySelector('.sb-editor-root');
  const bad = [];
  for (const el of root.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    if (el.scrollWidth > el.clientWidth + 2 && (s.overflowX === 'auto' || s.overflowX === 'scroll')) {
      bad.push('scrolls: ' + el.className);
    }
  }
  for (const b of root.querySelectorAll('button')) {
    if (b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1) bad.push('cut: ' + b.innerText);
  }
  const r = root.getBoundingClientRect();
  const area = document.querySelector('.jp-NotebookPanel').getBoundingClientRect();
  if (r.right > area.right + 1) bad.push('wider than the notebook: ' + r.right + ' > ' + area.right);
  return bad;
}"""


def test_plan_editor_scenario(lab: Lab, page, axe_script: Path) -> None:
    pg, shots = page
    started = time.monotonic()
    open_and_run_all(pg, lab, "plan_editor.ipynb")
    show(pg, ".sb-editor-root")
    # the first preview: page composition after the notebook's imports; bounded by what the
    # notebook took to show the editor (the same imports and a kernel start)
    shown_s = time.monotonic() - started
    pg.wait_for_selector(".sb-editor-preview img, img.sb-editor-preview", timeout=int(1000 * max(10, 2 * shown_s)))
    waits = _measure_round_trip(pg, int(1000 * max(10, 2 * shown_s)))
    assert pg.locator(".jp-FileBrowser").first.is_visible()  # the file browser is open
    shots("editor")
    assert pg.evaluate(FIT_CHECK) == []

    # issue 24: axe-core on the editor with a plan open: no critical or serious violation
    axe = run_axe(pg, ".sb-editor-root", axe_script)
    print(axe.summary("the plan editor with a plan open"))
    assert not axe.blocking, axe.violations

    # a visible focus ring: at least 2 px, 3:1 against white (rgb(26, 86, 176) is 6.9:1)
    ring = pg.locator(".sb-editor-save").evaluate(
        "(el) => { el.focus(); const s = getComputedStyle(el);"
        " return [s.outlineWidth, s.outlineStyle, s.outlineColor]; }"
    )
    assert float(ring[0].removesuffix("px")) >= 2 and ring[1] != "none" and ring[2] == "rgb(26, 86, 176)", ring

    # the preview's text alternative is the page's lettering; a full-size view on demand
    assert "Page 1." in (pg.locator("img.sb-editor-preview").first.get_attribute("title") or "")
    pg.locator(".sb-editor-preview-enlarge").click()
    pg.wait_for_selector("img.sb-editor-preview-full", state="visible", timeout=waits.ms(trips=20))
    pg.wait_for_function(
        "() => { const i = document.querySelector('img.sb-editor-preview-full'); return i && i.naturalWidth >= 1000; }",
        timeout=waits.ms(trips=20),
    )
    pg.locator("img.sb-editor-preview-full").scroll_into_view_if_needed()
    shots("full-size-preview")
    pg.locator(".sb-editor-preview-close").click()
    pg.wait_for_selector("img.sb-editor-preview-full", state="hidden", timeout=waits.ms())
    show(pg, ".sb-editor-root")

    # grid-2x2 -> big-top would drop panel 4: the editor asks; Cancel keeps the 4 panels
    layouts = pg.locator(".sb-editor-layout select option").all_inner_texts()
    pg.locator(".sb-editor-layout select").select_option(label=next(t for t in layouts if t.startswith("big-top")))
    pg.wait_for_selector(".sb-editor-pending-choice", timeout=waits.ms())
    # the question opens beside the layout list, in view, its first answer focused
    pg.wait_for_function(IN_VIEW_AND_FOCUSED, arg=".sb-editor-layout-question .sb-editor-pending", timeout=waits.ms())
    assert "answer is needed" in pg.locator(".sb-editor-status").inner_text().lower()
    shots("layout-asks")
    assert pg.evaluate(FIT_CHECK) == []
    pg.locator(".sb-editor-pending-choice", has_text="Cancel").click()
    pg.wait_for_function(
        "() => [...document.querySelectorAll('.sb-editor-pending')].every(e => e.offsetParent === null)",
        timeout=waits.ms(),
    )
    assert pg.locator(".sb-editor-panel-select select option").count() == 4
    assert pg.locator(".sb-editor-layout select").input_value().startswith("grid-2x2")

    # edit a dialogue line: the preview image changes; Undo brings the line back
    pg.locator(".sb-editor-panel-select select").select_option(index=3)
    line = pg.locator(".sb-editor-line-text input").first
    pg.wait_for_function("() => (document.querySelector('.sb-editor-line-text input') || {value: ''}).value.length > 0")
    before_text = line.input_value()
    before = pg.locator(".sb-editor-preview img, img.sb-editor-preview").first.get_attribute("src")
    line.fill("WHO TURNED OFF THE RAIN?")
    line.press("Enter")
    pg.wait_for_function(
        "(b) => { const i = document.querySelector('.sb-editor-preview img, img.sb-editor-preview');"
        " return i && i.getAttribute('src') !== b; }",
        arg=before,
        timeout=waits.ms(trips=15),
    )
    shots("dialogue-edited")
    pg.locator(".sb-editor-undo").click()
    pg.wait_for_function(
        "(t) => (document.querySelector('.sb-editor-line-text input') || {}).value === t",
        arg=before_text,
        timeout=waits.ms(),
    )
    shots("undone")

    # issue 24: a refused edit restores the field (a character needs a name) and the error is an alert
    pg.locator(".sb-editor-tabs .lm-TabBar-tab", has_text="Characters").click()
    name = pg.locator(".sb-editor-character-name input")
    old_name = name.input_value()
    name.fill("")
    name.press("Enter")
    pg.wait_for_selector(".sb-editor-error [role=alert]", timeout=waits.ms())
    pg.wait_for_function(
        "(t) => document.querySelector('.sb-editor-character-name input').value === t", arg=old_name, timeout=waits.ms()
    )
    assert "name" in pg.locator(".sb-editor-error").inner_text()
    shots("refused-edit-restored")
    pg.locator(".sb-editor-tabs .lm-TabBar-tab", has_text="Panel").first.click()

    # Save with an issue: the warning colour and the list, words first
    action = pg.locator(".sb-editor-panel-action textarea")
    action.fill("")
    action.blur()
    pg.wait_for_selector(".sb-editor-issue", timeout=waits.ms())
    saved_before = (lab.root / "plans" / "a-rain-on-podil.json").read_text(encoding="utf-8")
    pg.locator(".sb-editor-save").click()
    # issue 24: Save on a plan with problems asks first, beside Save, in view and focused
    pg.wait_for_selector(".sb-editor-pending-save_anyway", timeout=waits.ms())
    pg.wait_for_function(IN_VIEW_AND_FOCUSED, arg=".sb-editor-toolbar-question .sb-editor-pending", timeout=waits.ms())
    question = pg.locator(".sb-editor-pending-message").first.inner_text()
    assert "Page 1, panel 4: a panel needs an action" in question and "chapters[" not in question, question
    assert "ch1-p1-pan4" not in question
    assert "answer is needed" in pg.locator(".sb-editor-status").inner_text().lower()
    assert (lab.root / "plans" / "a-rain-on-podil.json").read_text(encoding="utf-8") == saved_before
    shots("save-with-problems")
    pg.locator(".sb-editor-pending-save_anyway").click()
    pg.wait_for_selector(".sb-editor-warning", timeout=waits.ms())
    shots("saved-with-issue")
    warning = pg.locator(".sb-editor-warning").inner_text()
    assert "issue(s) left" in warning and "Page 1, panel 4" in warning
    saved = json.loads((lab.root / "plans" / "a-rain-on-podil.json").read_text(encoding="utf-8"))
    assert saved["chapters"][0]["pages"][0]["panels"][3]["action"] == ""  # saved anyway, with the warning
    assert pg.evaluate(FIT_CHECK) == []


def test_batch_notebook_run_all(lab: Lab, page) -> None:
    pg, shots = page
    started = time.monotonic()
    open_and_run_all(pg, lab, "batch_render.ipynb")
    pg.wait_for_selector(".jp-OutputArea figure img", timeout=600_000)
    run_s = time.monotonic() - started  # the bar was drawn before the first thumbnail
    shots("thumbnail")
    # the progress bar (tqdm's notebook widget, left in place at 100 %) above the catalog rows
    bar = pg.locator(".jp-OutputArea [class*='progress']").first
    bar.wait_for(timeout=int(1000 * max(5, run_s)))
    bar.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    pg.wait_for_timeout(200)
    shots("progress")
    bar_text = pg.locator(".jp-OutputArea", has=pg.locator("[class*='progress']")).first.inner_text()
    assert "job" in bar_text and "100%" in bar_text, bar_text
    outputs = pg.locator(".jp-OutputArea").all_inner_texts()
    assert any("completed" in t for t in outputs)  # the run summary
    tables = pg.locator(".jp-OutputArea table").all_inner_texts()
    assert any("status" in t and "page" in t for t in tables)  # the catalog rows
    assert pg.locator(".jp-OutputArea figure figcaption").first.inner_text().endswith((".png", ".jpg"))
    assert not read_catalog(lab.outputs).empty, "the run wrote no catalog rows"
