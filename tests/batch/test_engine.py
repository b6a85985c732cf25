"""Batch engine: jobs, retries, cache, pages, exports, resume, cancellation, references."""

from __future__ import annotations

import json
import threading
import zipfile

import pytest
from engine_support import (
    FakeBackend,
    ReferenceBackend,
    SimpleComposer,
    decodes,
    edited,
    make_plan,
    plan_dict,
    small_settings,
)
from PIL import Image

from storybench.batch import RUN_MANIFEST, BatchEngine, ProgressEvent, read_catalog, render_plan
from storybench.exceptions import ConfigError, PermanentBackendError, TransientBackendError
from storybench.plan import parse_plan
from storybench.render.base import register_image_backend

PANELS = 8  # grid-2x2 + three-rows + single


def run(plan, backend, out, composer=None, **kw):
    composer = composer or SimpleComposer()
    settings = kw.pop("settings", None) or small_settings()
    return render_plan(
        plan, backend=backend, output_dir=out, settings=settings, composer=composer.composer(), progress=False, **kw
    )


def run_rows(out, run_id):
    df = read_catalog(out)
    return df[df.run_id == run_id]


def test_full_render_writes_layout_catalog_and_manifest(tmp_path):
    plan = make_plan()
    backend = FakeBackend()
    summary = run(plan, backend, tmp_path)

    assert summary.status == "completed" and summary.ok and summary.exit_code == 0
    assert summary.counts.panels_rendered == PANELS and summary.counts.pages_composed == 3
    run_dir = tmp_path / "test-comic" / summary.run_id
    assert summary.run_dir == run_dir
    assert sorted(p.name for p in (run_dir / "panels").iterdir()) == sorted(
        f"{p.id}.png" for _, pg in plan.pages() for p in pg.panels
    )
    assert [p.name for p in summary.pages] == ["page-001.png", "page-002.png", "page-003.png"]
    for page in summary.pages:
        with Image.open(page) as img:
            assert img.size == (400, 600)
    assert summary.pdf == run_dir / "test-comic.pdf" and summary.pdf.read_bytes().startswith(b"%PDF")
    with zipfile.ZipFile(summary.cbz) as zf:
        assert [n for n in zf.namelist() if n.endswith(".png")] == ["page-001.png", "page-002.png", "page-003.png"]
    assert summary.exported_pages == [1, 2, 3]

    manifest = json.loads((run_dir / RUN_MANIFEST).read_text())
    assert manifest["status"] == "completed"
    assert manifest["plan_sha256"] == plan.sha256() and manifest["backend"] == "fake"
    assert manifest["counts"]["panels_rendered"] == PANELS
    assert manifest["settings"]["page_width"] == 400
    assert manifest["preflight"]["specs"] == PANELS and manifest["preflight"]["seconds"] >= 0

    rows = run_rows(tmp_path, summary.run_id)
    assert sorted(rows.kind.value_counts().items()) == [("cbz", 1), ("page", 3), ("panel", PANELS), ("pdf", 1)]
    assert (rows.status == "completed").all() and not rows.cache_hit.any()
    panel = rows[rows.artifact_id == "p1-pan1"].iloc[0]
    assert panel.panel_id == "p1-pan1" and panel.chapter_id == "ch1" and panel.page_number == 1
    assert panel.backend == "fake" and panel.prompt.startswith("film noir") and panel.negative_prompt
    assert panel.path == f"test-comic/{summary.run_id}/panels/p1-pan1.png"
    assert (tmp_path / panel.path).stat().st_size == panel.bytes
    assert panel.attempts == 1 and panel.seconds >= 0 and panel.execution_seconds >= 0.002
    assert panel.started_at <= panel.finished_at
    assert str(summary).splitlines()[1] == f"panels: {PANELS} rendered, 0 cache hits, 0 failed"


def test_panel_sizes_follow_layout_rects(tmp_path):
    backend = FakeBackend()
    run(make_plan(layouts=("two-horizontal",)), backend, tmp_path)
    sizes = {s.panel_id: (s.width, s.height) for s in backend.calls}
    # two wide panels on a 400x600 page with margin 20, gutter 10: 360x275 → longer side 128
    assert sizes == {"p1-pan1": (128, 96), "p1-pan2": (128, 96)}


def test_rerun_is_all_cache_hits_in_a_new_run(tmp_path):
    plan = make_plan()
    composer = SimpleComposer()
    first = run(plan, FakeBackend(), tmp_path, composer)
    backend = FakeBackend()
    second = run(plan, backend, tmp_path, composer)

    assert second.run_id != first.run_id and not second.resumed
    assert backend.calls == [] and backend.preflight_calls == []
    assert sorted(composer.pages_composed) == [1, 2, 3]  # all from the first run
    assert composer.exports == ["pdf", "cbz"]
    c = second.counts
    assert (c.panels_rendered, c.panels_cached, c.pages_composed, c.pages_cached, c.exports_cached) == (
        0,
        PANELS,
        0,
        3,
        2,
    )
    assert f"panels: 0 rendered, {PANELS} cache hits, 0 failed" in str(second)
    for kind_dir in ("panels", "pages"):
        for f in (second.run_dir / kind_dir).iterdir():
            assert decodes(f)
    assert second.pdf.read_bytes() == first.pdf.read_bytes()
    rows = run_rows(tmp_path, second.run_id)
    assert len(rows) == PANELS + 5 and rows.cache_hit.all()
    assert len(read_catalog(tmp_path)) == 2 * (PANELS + 5)


def test_changed_panel_rerenders_only_it_and_recomposes_only_its_page(tmp_path):
    data = plan_dict()
    composer = SimpleComposer()
    run(parse_plan(data), FakeBackend(), tmp_path, composer)
    backend = FakeBackend()
    composer2 = SimpleComposer()
    summary = run(parse_plan(edited(data, 2, 3, action="a different action")), backend, tmp_path, composer2)

    assert backend.rendered_ids() == ["p2-pan3"]
    assert composer2.pages_composed == [2]
    assert composer2.exports == ["pdf", "cbz"]
    assert summary.counts.panels_cached == PANELS - 1 and summary.counts.pages_cached == 2


def test_lettering_change_recomposes_page_without_rendering(tmp_path):
    data = plan_dict()
    run(parse_plan(data), FakeBackend(), tmp_path)
    changed = edited(data, 1, 1, dialogue=[{"character": "joe", "text": "a new line"}])
    backend, composer = FakeBackend(), SimpleComposer()
    summary = run(parse_plan(changed), backend, tmp_path, composer)
    assert backend.calls == []
    assert composer.pages_composed == [1]
    assert summary.counts.pages_composed == 1 and summary.counts.pages_cached == 2


def test_force_ignores_cache(tmp_path):
    plan = make_plan()
    run(plan, FakeBackend(), tmp_path)
    backend, composer = FakeBackend(), SimpleComposer()
    summary = run(plan, backend, tmp_path, composer, settings=small_settings(force=True))
    assert len(backend.calls) == PANELS and sorted(composer.pages_composed) == [1, 2, 3]
    assert summary.counts.panels_rendered == PANELS and summary.counts.exports_built == 2


def test_transient_errors_are_retried_with_backoff(tmp_path):
    err = lambda: TransientBackendError("fake", "server busy")  # noqa: E731
    backend = FakeBackend(failures={"p1-pan2": [err(), err()]})
    summary = run(make_plan(), backend, tmp_path, settings=small_settings(backoff_seconds=0.05))
    assert summary.ok
    row = run_rows(tmp_path, summary.run_id).set_index("artifact_id").loc["p1-pan2"]
    assert row.attempts == 3 and row.status == "completed"
    assert row.seconds >= 0.05 + 0.10  # two waits: 0.05 s, then doubled
    assert backend.rendered_ids().count("p1-pan2") == 3


def test_exhausted_retries_fail_panel_and_its_page_only(tmp_path):
    backend = FakeBackend(failures={"p1-pan2": [TransientBackendError("fake", "timeout") for _ in range(5)]})
    summary = run(make_plan(), backend, tmp_path)

    assert summary.status == "failed" and summary.exit_code == 1
    rows = run_rows(tmp_path, summary.run_id).set_index("artifact_id")
    panel = rows.loc["p1-pan2"]
    assert panel.status == "failed" and panel.attempts == 3
    assert "gave up after 3 attempt(s)" in panel.error and "timeout" in panel.error
    page1 = rows[rows.kind == "page"].loc["page-1"]
    assert page1.status == "failed" and "p1-pan2" in page1.error
    assert rows[rows.kind == "page"].loc["page-2"].status == "completed"
    assert (rows[rows.kind.isin(["pdf", "cbz"])].status == "failed").all()
    assert summary.pdf is None and summary.counts.panels_failed == 1 and summary.counts.pages_composed == 2
    assert any("p1-pan2" in e for e in summary.errors)
    assert "panels: 7 rendered, 0 cache hits, 1 failed" in str(summary)


def test_permanent_error_fails_at_once(tmp_path):
    backend = FakeBackend(failures={"p3-pan1": [PermanentBackendError("fake", "model missing")]})
    summary = run(make_plan(), backend, tmp_path)
    row = run_rows(tmp_path, summary.run_id).set_index("artifact_id").loc["p3-pan1"]
    assert row.status == "failed" and row.attempts == 1 and "model missing" in row.error
    assert backend.rendered_ids().count("p3-pan1") == 1


def test_rerun_after_failure_resumes_and_retries_failed_jobs(tmp_path):
    plan = make_plan()
    backend = FakeBackend(failures={"p1-pan2": [PermanentBackendError("fake", "bad")]})
    first = run(plan, backend, tmp_path)
    assert first.status == "failed"

    backend2 = FakeBackend()
    second = run(plan, backend2, tmp_path)
    assert second.run_id == first.run_id and second.resumed and second.ok
    assert backend2.rendered_ids() == ["p1-pan2"]
    rows = run_rows(tmp_path, second.run_id)
    assert not rows.duplicated(["kind", "artifact_id"]).any()
    assert len(rows) == PANELS + 5 and (rows.status == "completed").all()
    # the panels done by the first attempt keep their original rows
    assert not rows.set_index("artifact_id").loc["p1-pan1"].cache_hit
    assert json.loads((second.run_dir / RUN_MANIFEST).read_text())["resumes"] == 1

    third = run(plan, FakeBackend(), tmp_path)
    assert third.run_id != first.run_id  # the previous run completed: a new one starts


def test_resume_false_starts_a_new_run(tmp_path):
    plan = make_plan()
    first = run(plan, FakeBackend(failures={"p1-pan1": [PermanentBackendError("fake", "x")]}), tmp_path)
    second = run(plan, FakeBackend(), tmp_path, resume=False)
    assert second.run_id != first.run_id and not second.resumed and second.ok


def test_different_settings_do_not_resume(tmp_path):
    plan = make_plan()
    first = run(plan, FakeBackend(failures={"p1-pan1": [PermanentBackendError("fake", "x")]}), tmp_path)
    second = run(plan, FakeBackend(), tmp_path, settings=small_settings(dpi=96))
    assert second.run_id != first.run_id


def test_cancel_marks_remaining_jobs_cancelled_then_resume_completes(tmp_path):
    plan = make_plan()
    backend = FakeBackend(delay=0.02)
    holder: dict = {}

    def on_event(event: ProgressEvent) -> None:
        if event.type == "job_finished" and event.kind == "panel" and event.done == 2:
            holder["engine"].cancel()

    engine = BatchEngine(
        plan,
        backend=backend,
        output_dir=tmp_path,
        settings=small_settings(concurrency=1),
        composer=SimpleComposer().composer(),
        progress=False,
        on_event=on_event,
    )
    holder["engine"] = engine
    summary = engine.run()
    assert summary.status == "cancelled" and not summary.ok and backend.cancelled
    assert summary.counts.panels_cancelled >= 1 and summary.counts.panels_rendered < PANELS
    rows = run_rows(tmp_path, summary.run_id)
    assert set(rows[rows.kind.isin(["pdf", "cbz"])].status) == {"cancelled"}
    assert len(backend.calls) < PANELS

    again = run(plan, FakeBackend(), tmp_path)
    assert again.run_id == summary.run_id and again.ok
    rows = run_rows(tmp_path, again.run_id)
    assert len(rows) == PANELS + 5 and not rows.duplicated(["kind", "artifact_id"]).any()


def test_cancel_event_before_start(tmp_path):
    event = threading.Event()
    event.set()
    backend = FakeBackend()
    summary = run(make_plan(), backend, tmp_path, cancel_event=event)
    assert summary.status == "cancelled" and backend.calls == []


def test_preflight_once_with_specs_to_render_and_failure_fails_jobs(tmp_path):
    plan = make_plan()
    backend = FakeBackend(preflight_error=TransientBackendError("fake", "server down", url="http://127.0.0.1:1"))
    summary = run(plan, backend, tmp_path)
    assert len(backend.preflight_calls) == 1 and len(backend.preflight_calls[0]) == PANELS
    assert backend.calls == [] and summary.status == "failed"
    rows = run_rows(tmp_path, summary.run_id)
    assert rows[rows.kind == "panel"].error.str.contains("preflight failed.*server down").all()
    manifest = json.loads((summary.run_dir / RUN_MANIFEST).read_text())
    assert "server down" in manifest["preflight"]["error"]


def test_concurrency_runs_renders_in_parallel(tmp_path):
    backend = FakeBackend(delay=0.06)
    run(make_plan(), backend, tmp_path, settings=small_settings(concurrency=4))
    assert backend.max_in_flight == 4

    default = FakeBackend(delay=0.06)  # default_concurrency = 2
    run(make_plan(plan_id="other"), default, tmp_path, settings=small_settings(concurrency=0))
    assert default.max_in_flight == 2


def test_metrics_go_to_json_and_flat_columns(tmp_path):
    metrics = {
        "queue_seconds": 1.5,
        "execution_seconds": 2.25,
        "cost": 0.0021,
        "vram_free_before": 8e9,
        "prompt_id": "abc",
    }
    summary = run(make_plan(layouts=("single",)), FakeBackend(metrics=metrics), tmp_path)
    row = run_rows(tmp_path, summary.run_id).set_index("artifact_id").loc["p1-pan1"]
    assert row.queue_seconds == 1.5 and row.execution_seconds == 2.25 and row.cost == pytest.approx(0.0021)
    assert row.vram_free_before == 8e9 and pd_isna(row.vram_free_after)
    assert json.loads(row.metrics)["prompt_id"] == "abc"


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_non_png_images_are_converted_and_corrupt_ones_fail(tmp_path):
    summary = run(make_plan(layouts=("single",)), FakeBackend(fmt="JPEG"), tmp_path)
    panel = summary.run_dir / "panels" / "p1-pan1.png"
    with Image.open(panel) as img:
        assert img.format == "PNG"

    class Corrupt(FakeBackend):
        def render(self, spec):
            result = super().render(spec)
            return result.model_copy(update={"image": result.image[:20]})

    bad = run(make_plan(plan_id="bad", layouts=("single",)), Corrupt(), tmp_path)
    row = run_rows(tmp_path, bad.run_id).set_index("artifact_id").loc["p1-pan1"]
    assert row.status == "failed" and row.attempts == 3 and "does not decode" in row.error


def test_only_pages_exports_selection_then_full_comic_from_cache(tmp_path):
    plan = make_plan()
    backend = FakeBackend()
    part = run(plan, backend, tmp_path, settings=small_settings(only_pages=[2]))
    assert backend.rendered_ids() == ["p2-pan1", "p2-pan2", "p2-pan3"]
    assert [p.name for p in part.pages] == ["page-002.png"] and part.exported_pages == [2]
    with zipfile.ZipFile(part.cbz) as zf:
        assert [n for n in zf.namelist() if n.endswith(".png")] == ["page-002.png"]

    run(plan, FakeBackend(), tmp_path)  # everything cached now
    backend3 = FakeBackend()
    again = run(plan, backend3, tmp_path, settings=small_settings(only_pages=[2]))
    assert backend3.calls == []
    assert again.exported_pages == [1, 2, 3] and len(again.pages) == 3
    with zipfile.ZipFile(again.cbz) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 3


def test_only_pages_unknown_page_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no page 7"):
        run(make_plan(), FakeBackend(), tmp_path, settings=small_settings(only_pages=[7]))


def test_backend_by_name_and_progress_events(tmp_path):
    register_image_backend("fake-by-name", FakeBackend)
    events: list[ProgressEvent] = []
    summary = render_plan(
        make_plan(),
        backend="fake-by-name",
        output_dir=tmp_path,
        settings=small_settings(),
        composer=SimpleComposer().composer(),
        progress=True,
        on_event=events.append,
    )
    assert summary.ok
    assert events[0].type == "run_started" and events[-1].type == "run_finished" and events[-1].status == "completed"
    finished = [e for e in events if e.type == "job_finished"]
    assert len(finished) == PANELS + 5 == events[0].total
    assert [e.done for e in finished] == list(range(1, PANELS + 6))


def test_to_frame_has_catalog_columns(tmp_path):
    from storybench.batch import CATALOG_COLUMNS

    summary = run(make_plan(), FakeBackend(), tmp_path)
    frame = summary.to_frame()
    assert list(frame.columns) == list(CATALOG_COLUMNS) and len(frame) == PANELS + 5


def test_character_sheets_for_reference_backend(tmp_path):
    plan = make_plan()
    backend = ReferenceBackend()
    summary = run(plan, backend, tmp_path)
    assert summary.ok and summary.counts.sheets_rendered == 2
    sheets = [s for s in backend.calls if s.params.get("kind") == "character_sheet"]
    assert sorted(s.cast[0].id for s in sheets) == ["joe", "mara"]
    assert all((s.width, s.height) == (1024, 1024) for s in sheets)
    assert backend.calls.index(sheets[-1]) < 2  # sheets render before any panel
    for name in ("mara", "joe"):
        assert decodes(summary.run_dir / "characters" / f"{name}.png")
    panels = {s.panel_id: s for s in backend.calls if s.panel_id}
    with_cast = [pid for pid, s in panels.items() if s.cast]
    assert with_cast
    for pid in with_cast:
        spec = panels[pid]
        first = spec.cast[0].id
        assert spec.reference_images == (str(summary.run_dir / "characters" / f"{first}.png"),)
        from storybench.files import sha256_file

        assert spec.params["reference_sha256"] == sha256_file(spec.reference_images[0])
    assert all(not s.reference_images for s in panels.values() if not s.cast)
    rows = run_rows(tmp_path, summary.run_id)
    assert sorted(rows[rows.kind == "character_sheet"].artifact_id) == ["joe", "mara"]

    # a changed appearance re-renders that sheet and the panels that show the character
    data = plan_dict()
    data["characters"][1]["appearance"] = "young man, red hair"
    backend2 = ReferenceBackend()
    again = run(parse_plan(data), backend2, tmp_path)
    rendered = backend2.rendered_ids()
    assert "sheet:joe" in rendered and "sheet:mara" not in rendered
    joe_panels = sorted(p.id for _, pg in plan.pages() for p in pg.panels if "joe" in p.characters)
    assert [r for r in rendered if not r.startswith("sheet:")] == joe_panels
    assert again.counts.sheets_cached == 1


def test_failed_character_sheet_fails_its_panels(tmp_path):
    backend = ReferenceBackend(failures={"sheet:joe": [PermanentBackendError("fake-ref", "no")]})
    summary = run(make_plan(), backend, tmp_path)
    rows = run_rows(tmp_path, summary.run_id).set_index("artifact_id")
    failed = rows[(rows.kind == "panel") & (rows.status == "failed")]
    assert len(failed) > 0 and failed.error.str.contains("character sheet 'joe'").all()
    assert summary.status == "failed"


def test_unfinished_run_held_by_another_process_is_not_resumed(tmp_path):
    from filelock import FileLock

    plan = make_plan()
    first = run(plan, FakeBackend(failures={"p1-pan1": [PermanentBackendError("fake", "x")]}), tmp_path)
    held = FileLock(str(first.run_dir / "run.lock"))
    held.acquire(timeout=0)  # as if a second render of it were still going on
    try:
        second = run(plan, FakeBackend(), tmp_path)
        assert second.run_id != first.run_id and second.ok
        with pytest.raises(ConfigError, match="another process"):
            run(plan, FakeBackend(), tmp_path, run_id=first.run_id)
    finally:
        held.release()
    third = run(plan, FakeBackend(), tmp_path, run_id=first.run_id)
    assert third.run_id == first.run_id and third.resumed and third.ok


def test_keyboard_interrupt_cancels_records_and_reraises(tmp_path):
    plan = make_plan()
    backend = FakeBackend(delay=0.01)

    def on_event(event: ProgressEvent) -> None:  # runs in the calling thread, like Ctrl-C would
        if event.type == "job_finished" and event.done == 2:
            raise KeyboardInterrupt

    engine = BatchEngine(
        plan,
        backend=backend,
        output_dir=tmp_path,
        settings=small_settings(concurrency=1),
        composer=SimpleComposer().composer(),
        progress=False,
        on_event=on_event,
    )
    with pytest.raises(KeyboardInterrupt):
        engine.run()
    assert backend.cancelled
    manifest = json.loads((engine.run_dir / RUN_MANIFEST).read_text())
    assert manifest["status"] == "cancelled" and "KeyboardInterrupt" in manifest["errors"][-1]
    assert len(backend.calls) <= 3  # queued panels did not start after the interrupt
    again = run(plan, FakeBackend(), tmp_path)
    assert again.run_id == engine.run_id and again.ok


def test_interrupt_escaping_a_worker_fails_that_job_and_reaches_the_caller(tmp_path):
    class Interrupting(FakeBackend):
        def render(self, spec):
            if spec.panel_id == "p2-pan1":
                raise KeyboardInterrupt
            return super().render(spec)

    backend = Interrupting()
    engine = BatchEngine(
        make_plan(),
        backend=backend,
        output_dir=tmp_path,
        settings=small_settings(concurrency=1),
        composer=SimpleComposer().composer(),
        progress=False,
    )
    with pytest.raises(KeyboardInterrupt):
        engine.run()
    rows = run_rows(tmp_path, engine.run_id).set_index("artifact_id")
    assert rows.loc["p2-pan1"].status == "failed" and "KeyboardInterrupt" in rows.loc["p2-pan1"].error
    assert json.loads((engine.run_dir / RUN_MANIFEST).read_text())["status"] == "cancelled"


def test_thin_panels_get_at_least_the_minimum_render_side(tmp_path):
    backend = FakeBackend()
    summary = run(make_plan(layouts=("three-rows",)), backend, tmp_path, settings=small_settings(panel_max_side=64))
    assert summary.ok
    assert all(min(s.width, s.height) >= 64 and s.width % 8 == 0 and s.height % 8 == 0 for s in backend.calls)


def test_catalog_is_written_in_batches_not_per_panel(tmp_path):
    engine = BatchEngine(
        make_plan(),
        backend=FakeBackend(),
        output_dir=tmp_path,
        settings=small_settings(),
        composer=SimpleComposer().composer(),
        progress=False,
    )
    summary = engine.run()
    assert summary.ok and engine.catalog.flushes == 1  # 13 rows, flushed once at the end
    assert len(read_catalog(tmp_path)) == PANELS + 5
