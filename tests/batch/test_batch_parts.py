"""The batch engine's parts on their own: cache keys, counts, the run folder, page readiness."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import FakeBackend, ReferenceBackend, make_plan, small_settings

from storybench.batch.counts import RunCounts
from storybench.batch.jobs import Job, JobKind, JobState
from storybench.batch.keys import export_key, page_key, panel_spec, reference_of, render_key
from storybench.batch.run_folder import ResumeMatch, RunFolder
from storybench.batch.work import PageGate, panel_specs, plan_pages
from storybench.exceptions import ConfigError


def first_panel_with_cast():
    plan = make_plan()
    chapter, page = next(iter(plan.pages()))
    panel = next(p for p in page.panels if p.characters)
    spec = panel_specs(plan, page, small_settings(), rtl=False)[panel.id]
    return plan, chapter, page, panel, spec


def test_panel_key_without_references_is_the_render_key():
    _, _, _, panel, spec = first_panel_with_cast()
    backend = FakeBackend()
    keyed = panel_spec(backend, spec, panel, {}, None)
    assert keyed.spec == spec and keyed.key == render_key(backend, spec)


def test_panel_key_waits_for_its_sheet_and_follows_its_hash(tmp_path):
    _, _, _, panel, spec = first_panel_with_cast()
    backend = ReferenceBackend()
    sheet = tmp_path / "characters" / f"{reference_of(panel)}.png"
    pending = panel_spec(backend, spec, panel, {}, tmp_path / "characters")
    assert pending.key is None and pending.spec.reference_images == (str(sheet),)
    assert "reference_sha256" not in pending.spec.params
    one = panel_spec(backend, spec, panel, {reference_of(panel): "a" * 64}, tmp_path / "characters")
    two = panel_spec(backend, spec, panel, {reference_of(panel): "b" * 64}, tmp_path / "characters")
    assert one.spec.params["reference_sha256"] == "a" * 64 and one.spec.reference_images == (str(sheet),)
    assert one.key and two.key and one.key != two.key != render_key(backend, spec)


def test_page_and_export_keys_change_with_their_inputs():
    plan, chapter, page, _, _ = first_panel_with_cast()
    settings = small_settings()
    base = dict(composer_version="1", settings=settings, rtl=False)
    key = page_key(plan, chapter, page, ["a", "b"], **base)
    assert key == page_key(plan, chapter, page, ["a", "b"], **base)
    assert key != page_key(plan, chapter, page, ["a", "c"], **base)
    assert key != page_key(plan, chapter, page, ["a", "b"], **{**base, "rtl": True})
    assert key != page_key(plan, chapter, page, ["a", "b"], **{**base, "composer_version": "2"})
    pdf = export_key(plan, "pdf", ["a"], composer_version="1", dpi=300)
    assert pdf != export_key(plan, "cbz", ["a"], composer_version="1", dpi=300)
    assert pdf != export_key(plan, "pdf", ["a"], composer_version="1", dpi=150)


def test_counts_add_by_kind_and_outcome():
    counts = RunCounts()
    counts.add(JobKind.PANEL, JobState.COMPLETED, False)
    counts.add(JobKind.PANEL, JobState.COMPLETED, True)
    counts.add(JobKind.PAGE, JobState.FAILED, False)
    counts.add(JobKind.CHARACTER_SHEET, JobState.CANCELLED, False)
    counts.add(JobKind.CBZ, JobState.COMPLETED, False)
    assert (counts.panels_rendered, counts.panels_cached, counts.pages_failed) == (1, 1, 1)
    assert counts.sheets_cancelled == 1 and counts.exports_built == 1 and counts.failed == 1
    flat = counts.to_dict()
    assert flat["panels_rendered"] == 1 and flat["pages_failed"] == 1 and flat["exports_built"] == 1
    assert all(getattr(counts, name) == value for name, value in flat.items())


def test_run_folder_lock_manifest_and_resume(tmp_path):
    match = ResumeMatch("sha", "fake", "fp")
    first = RunFolder(tmp_path, "comic")
    first.open(run_id=None, match=match)
    assert first.run_id and first.path == tmp_path / "comic" / first.run_id and not first.resumed
    first.start({"plan_sha256": "sha", "backend": "fake", "settings_fingerprint": "fp"})
    with pytest.raises(ConfigError, match="another process"):
        RunFolder(tmp_path, "comic").open(run_id=first.run_id, match=None)
    held = RunFolder(tmp_path, "comic")
    held.open(run_id=None, match=match)  # the unfinished run is locked: a new one starts
    assert held.run_id != first.run_id
    held.close()
    first.finish("failed", {"errors": ["x"]})
    assert first.manifest["status"] == "failed" and first.manifest["resumes"] == 0
    first.close()
    again = RunFolder(tmp_path, "comic")
    again.open(run_id=None, match=match)
    assert again.run_id == first.run_id and again.resumed
    again.start({"plan_sha256": "sha", "backend": "fake", "settings_fingerprint": "fp"})
    assert again.manifest["resumes"] == 1 and again.manifest["created_at"] == first.manifest["created_at"]
    again.close()
    assert again.page_path(3) == again.path / "pages" / "page-003.png"
    assert again.export_path(".pdf") == again.path / "comic.pdf"


def test_page_gate_tracks_pages_by_id(tmp_path):
    plan = make_plan()
    folder = RunFolder(tmp_path, plan.id)
    pages = plan_pages(plan, small_settings(), folder, selected={1, 2}, rtl=False)
    selected = [w for w in pages if w.selected]
    assert [len(w.panel_jobs) for w in pages] == [4, 3, 0]
    first, second = selected
    submitted = {j.id for j in first.panel_jobs[:2]} | {j.id for j in second.panel_jobs}
    gate = PageGate(selected, submitted)
    assert gate.ready() == []
    assert gate.panel_finished(first.panel_jobs[0].artifact_id) is None
    assert gate.panel_finished(first.panel_jobs[1].artifact_id) is first  # the other two never ran
    for job in second.panel_jobs[:-1]:
        assert gate.panel_finished(job.artifact_id) is None
    assert gate.panel_finished(second.panel_jobs[-1].artifact_id) is second


def test_kept_needs_the_same_key_and_an_intact_file(tmp_path):
    from storybench.batch.catalog import upsert_catalog_rows
    from storybench.files import atomic_write_bytes, sha256_bytes

    folder = RunFolder(tmp_path, "comic")
    folder.open(run_id="r1", match=None)
    path = atomic_write_bytes(folder.panel_path("p1"), b"png")
    row = {"run_id": "r1", "kind": "panel", "artifact_id": "p1", "status": "completed", "cache_key": "k"}
    upsert_catalog_rows(tmp_path, [{**row, "sha256": sha256_bytes(b"png"), "bytes": 3}])
    folder.close()
    resumed = RunFolder(tmp_path, "comic")
    resumed.open(run_id="r1", match=None)
    assert not resumed.resumed  # no run.json: nothing was started there
    resumed.start({})
    resumed.close()
    again = RunFolder(tmp_path, "comic")
    again.open(run_id="r1", match=None)
    assert again.resumed
    job = Job(JobKind.PANEL, "p1", Path(path), cache_key="k")
    assert again.kept(job) and job.sha256 == sha256_bytes(b"png") and job.bytes == 3
    assert not again.kept(Job(JobKind.PANEL, "p1", Path(path), cache_key="other"))
    path.write_bytes(b"changed")
    assert not again.kept(Job(JobKind.PANEL, "p1", Path(path), cache_key="k"))
    again.close()
