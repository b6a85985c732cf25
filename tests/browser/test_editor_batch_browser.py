"""The plan editor and the batch notebook in JupyterLab at 1280×800 with the file browser open."""

from __future__ import annotations

import json

import pytest

from conftest import Lab, open_and_run_all, show
from storybench.batch import read_catalog

pytestmark = pytest.mark.slow

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


def test_plan_editor_scenario(lab: Lab, page) -> None:
    pg, shots = page
    open_and_run_all(pg, lab, "plan_editor.ipynb")
    show(pg, ".sb-editor-root")
    pg.wait_for_selector(".sb-editor-preview img, img.sb-editor-preview", timeout=60_000)
    assert pg.locator(".jp-FileBrowser").first.is_visible()  # the file browser is open
    shots("editor")
    assert pg.evaluate(FIT_CHECK) == []

    # grid-2x2 -> big-top would drop panel 4: the editor asks; Cancel keeps the 4 panels
    layouts = pg.locator(".sb-editor-layout select option").all_inner_texts()
    pg.locator(".sb-editor-layout select").select_option(label=next(t for t in layouts if t.startswith("big-top")))
    pg.wait_for_selector(".sb-editor-pending-choice", timeout=30_000)
    shots("layout-asks")
    assert pg.evaluate(FIT_CHECK) == []
    pg.locator(".sb-editor-pending-choice", has_text="Cancel").click()
    pg.wait_for_function("() => document.querySelector('.sb-editor-pending').offsetParent === null")
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
        timeout=30_000,
    )
    shots("dialogue-edited")
    pg.locator(".sb-editor-undo").click()
    pg.wait_for_function(
        "(t) => (document.querySelector('.sb-editor-line-text input') || {}).value === t",
        arg=before_text,
        timeout=10_000,
    )
    shots("undone")

    # Save with an issue: the warning colour and the list, words first
    action = pg.locator(".sb-editor-panel-action textarea")
    action.fill("")
    action.blur()
    pg.wait_for_selector(".sb-editor-issue", timeout=10_000)
    pg.locator(".sb-editor-save").click()
    pg.wait_for_selector(".sb-editor-warning", timeout=10_000)
    shots("saved-with-issue")
    warning = pg.locator(".sb-editor-warning").inner_text()
    assert "issue(s) left" in warning and "Page 1, panel 4" in warning
    saved = json.loads((lab.root / "plans" / "a-rain-on-podil.json").read_text(encoding="utf-8"))
    assert saved["chapters"][0]["pages"][0]["panels"][3]["action"] == ""  # saved anyway, with the warning
    assert pg.evaluate(FIT_CHECK) == []


def test_batch_notebook_run_all(lab: Lab, page) -> None:
    pg, shots = page
    open_and_run_all(pg, lab, "batch_render.ipynb")
    pg.wait_for_selector(".jp-OutputArea figure img", timeout=600_000)
    shots("thumbnail")
    # the progress bar (tqdm's notebook widget, left in place at 100 %) above the catalog rows
    bar = pg.locator(".jp-OutputArea [class*='progress']").first
    bar.wait_for(timeout=30_000)
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
