"""Candidates per panel and a pick that sticks (issue 20, must-show 3): 3 candidates per panel
in the catalog with a consistency each, the picked one the best, saved in the plan; a
changed pick is kept by the next render with 0 panels rendered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from storybench.batch.candidates import best_candidate, candidate_seed
from storybench.batch.engine import render_plan
from storybench.batch.jobs import Job, JobKind, JobState
from storybench.config import RenderSettings
from storybench.plan.loading import load_plan

ROOT = Path(__file__).resolve().parents[2]


def _settings(**kw) -> RenderSettings:
    base = dict(page_width=600, page_height=900, panel_max_side=256, dpi=72, margin=20, gutter=10, exports=[])
    base.update(kw)
    return RenderSettings(**base)


def _rows(summary) -> pd.DataFrame:
    return summary.to_frame()


def test_three_candidates_a_best_pick_saved_and_a_changed_pick_kept(tmp_path: Path) -> None:
    plan_file = tmp_path / "comet-vs-gearlock.json"
    shutil.copy(ROOT / "plans" / "comet-vs-gearlock.json", plan_file)
    plan = load_plan(plan_file)
    panels = [p.id for _, page in plan.pages() for p in page.panels]
    out = tmp_path / "out"

    first = render_plan(
        plan_file, backend="storyboard", output_dir=out, settings=_settings(candidates=3, pick="best"), progress=False
    )
    assert first.ok, first.errors
    rows = _rows(first)
    cands = rows[rows.artifact_id.str.contains("~c")]
    assert sorted(cands.groupby("panel_id").size().to_dict().items()) == sorted((p, 3) for p in panels)
    with_cast = {p.id for _, page in plan.pages() for p in page.panels if p.characters}
    scored = cands[cands.panel_id.isin(with_cast)]
    assert scored.consistency.notna().all() and len(scored) == 3 * len(with_cast)
    picked = load_plan(plan_file)
    seeds = {p.id: p.seed for _, page in picked.pages() for p in page.panels}
    assert all(seed is not None for seed in seeds.values())
    for pid in with_cast:  # the picked candidate is the best-scored one
        mine = cands[cands.panel_id == pid]
        best = mine.sort_values(["consistency", "candidate"], ascending=[False, True]).iloc[0]
        assert seeds[pid] == best.seed
        panel_row = rows[(rows.artifact_id == pid) & (rows.kind == "panel")].iloc[0]
        assert panel_row.seed == best.seed and panel_row.candidate == best.candidate
    assert first.counts.to_dict()  # summary counts exist

    # the writer picks another candidate of the first panel (as the editor does: the seed in the plan)
    target = next(iter(with_cast))
    other = cands[(cands.panel_id == target) & (cands.seed != seeds[target])].iloc[0]
    data = json.loads(plan_file.read_text())
    for ch in data["chapters"]:
        for page in ch["pages"]:
            for panel in page["panels"]:
                if panel["id"] == target:
                    panel["seed"] = int(other.seed)
    plan_file.write_text(json.dumps(data, indent=2))
    again = render_plan(
        plan_file, backend="storyboard", output_dir=out, settings=_settings(candidates=3, pick="best"), progress=False
    )
    assert again.ok, again.errors
    rows2 = _rows(again)
    assert not rows2.artifact_id.str.contains("~c").any()  # every panel has a pick: no candidates
    assert again.counts.panels_rendered == 0
    assert rows2[rows2.artifact_id == target].iloc[0].seed == other.seed
    assert load_plan(plan_file).character  # still a valid plan
    kept = {p.id: p.seed for _, page in load_plan(plan_file).pages() for p in page.panels}
    assert kept[target] == int(other.seed)


def test_low_consistency_panels_are_listed_and_candidate_seeds_differ(tmp_path: Path) -> None:
    plan_file = tmp_path / "lantern-keeper.json"
    shutil.copy(ROOT / "plans" / "lantern-keeper.json", plan_file)
    summary = render_plan(
        plan_file,
        backend="storyboard",
        output_dir=tmp_path / "out",
        settings=_settings(candidates=2, consistency_threshold=1.0, only_pages=[1]),
        progress=False,
    )
    assert summary.ok
    assert summary.low_consistency and all(score < 1.0 for _, score in summary.low_consistency)
    assert "low consistency: panel" in str(summary)
    assert all(p.seed is None for _, page in load_plan(plan_file).pages() for p in page.panels)  # no pick: unchanged
    assert len({candidate_seed(1234, i) for i in range(16)}) == 16 and candidate_seed(1234, 0) == 1234


def test_best_candidate_prefers_score_then_lower_index(tmp_path: Path) -> None:
    def job(i: int, score: float | None, state: JobState = JobState.COMPLETED) -> Job:
        j = Job(JobKind.PANEL, f"p~c{i}", tmp_path / f"{i}.png", candidate=i, consistency=score)
        j.state = state
        return j

    assert best_candidate([job(0, 0.4), job(1, 0.7), job(2, 0.7)]).candidate == 1
    assert best_candidate([job(0, None), job(1, 0.1)]).candidate == 1
    assert best_candidate([job(0, 0.9, JobState.FAILED), job(1, 0.2)]).candidate == 1
    assert best_candidate([job(0, 0.9, JobState.FAILED)]) is None


def test_editor_contact_sheet_shows_scores_and_pick_saves_the_seed(tmp_path: Path) -> None:
    from storybench.editor.model import PlanEditorModel
    from storybench.editor.ui.candidates import CandidatesPane

    plans = tmp_path / "plans"
    plans.mkdir()
    plan_file = plans / "comet-vs-gearlock.json"
    shutil.copy(ROOT / "plans" / "comet-vs-gearlock.json", plan_file)
    out = tmp_path / "out"
    settings = _settings(candidates=3, pick="best", only_pages=[1])
    assert render_plan(plan_file, backend="storyboard", output_dir=out, settings=settings, progress=False).ok
    model = PlanEditorModel(plans_dir=plans)
    model.open_plan(plan_file)
    pane = CandidatesPane(model, output_dir=out)
    assert len(pane.cards) == 3 and "3 candidate(s)" in pane.message.value
    picked = [c for c in pane.cards if c.pick_button.disabled]
    assert len(picked) == 1 and "picked" in picked[0].label.value and "consistency" in picked[0].label.value
    assert all(c.image.value[:8] == b"\x89PNG\r\n\x1a\n" for c in pane.cards)
    other = next(c for c in pane.cards if not c.pick_button.disabled)
    other.pick_button.click()
    assert model.error == ""
    saved = load_plan(plan_file)
    first = next(p for _, page in saved.pages() for p in page.panels)
    assert first.seed == other.found["seed"]
    assert [c.pick_button.disabled for c in pane.cards].count(True) == 1 and pane.cards[
        [c.found["seed"] for c in pane.cards].index(other.found["seed"])
    ].pick_button.disabled
    again = render_plan(plan_file, backend="storyboard", output_dir=out, settings=settings, progress=False)
    assert again.ok and again.counts.panels_rendered == 0  # the pick is in the cache


def test_regenerate_gives_one_panel_new_candidates_and_leaves_the_rest(tmp_path: Path) -> None:
    import pytest

    from storybench.exceptions import ConfigError

    plan_file = tmp_path / "comet-vs-gearlock.json"
    shutil.copy(ROOT / "plans" / "comet-vs-gearlock.json", plan_file)
    out = tmp_path / "out"
    first = render_plan(
        plan_file,
        backend="storyboard",
        output_dir=out,
        progress=False,
        settings=_settings(candidates=3, pick="best", only_pages=[1]),
    )
    old = _rows(first)
    target = "ch1-p1-pan1"
    before = {p.id: p.seed for _, page in load_plan(plan_file).pages() for p in page.panels}
    again = render_plan(
        plan_file,
        backend="storyboard",
        output_dir=out,
        progress=False,
        settings=_settings(candidates=3, only_pages=[1], regenerate=[target]),
    )
    assert again.ok
    rows = _rows(again)
    new = rows[rows.artifact_id.str.contains("~c")]
    assert set(new.panel_id) == {target} and len(new) == 3  # the other panels are not touched
    assert not set(new.seed) & set(old[old.panel_id == target].seed)  # seeds not tried before
    assert new.consistency.notna().all()
    assert again.counts.panels_rendered == 3  # just the new candidates
    after = {p.id: p.seed for _, page in load_plan(plan_file).pages() for p in page.panels}
    assert after == before  # without pick=best the pick stays
    with pytest.raises(ConfigError, match="no panel 'nope'"):
        render_plan(
            plan_file,
            backend="storyboard",
            output_dir=out,
            progress=False,
            settings=_settings(candidates=3, regenerate=["nope"]),
        )
