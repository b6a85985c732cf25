"""The public names of storybench.batch stay what callers (CLI, notebooks) import."""

import inspect

import storybench.batch as batch


def test_public_names():
    assert set(batch.__all__) == {
        "render_plan",
        "BatchEngine",
        "ProgressEvent",
        "RunSummary",
        "RunCounts",
        "Composer",
        "read_catalog",
        "read_catalog_table",
        "upsert_catalog_rows",
        "CatalogWriter",
        "CATALOG_COLUMNS",
        "CATALOG_FILE",
        "CATALOG_SCHEMA",
        "FLAT_METRICS",
        "ArtifactCache",
        "CacheEntry",
        "materialize_file",
        "Job",
        "JobKind",
        "JobState",
        "call_with_retries",
        "is_transient",
        "character_sheet_spec",
        "page_file_name",
        "RUN_MANIFEST",
        "find_resumable_run",
        "list_runs",
        "new_run_id",
        "read_manifest",
        "settings_fingerprint",
    }
    for name in batch.__all__:
        assert getattr(batch, name) is not None


def test_render_plan_signature():
    params = inspect.signature(batch.render_plan).parameters
    assert list(params) == [
        "plan",
        "backend",
        "output_dir",
        "settings",
        "plan_path",
        "run_id",
        "resume",
        "progress",
        "composer",
        "on_event",
        "cancel_event",
    ]
    assert params["output_dir"].default == "outputs" and params["resume"].default is True
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n != "plan")


def test_job_states_and_kinds():
    assert [s.value for s in batch.JobState] == ["pending", "processing", "completed", "failed", "cancelled"]
    assert {k.value for k in batch.JobKind} == {
        "panel",
        "page",
        "pdf",
        "cbz",
        "epub",
        "webtoon",
        "cover",
        "character_sheet",
    }
