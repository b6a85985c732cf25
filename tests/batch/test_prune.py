"""storybench prune, per-run catalog files with compaction, and no duplicated bytes on forced re-renders."""

from __future__ import annotations

import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from engine_support import FakeBackend, make_plan, small_settings
from PIL import Image

from storybench.batch import read_catalog, render_plan
from storybench.batch.catalog import CATALOG_FILE, CATALOG_RUNS_DIR, compact_catalog
from storybench.batch.prune import parse_age, prune_outputs
from storybench.cli import main

SETTINGS = small_settings(page_width=500, page_height=760, dpi=100, margin=20, gutter=10)


def variant(n: int):
    """The same plan with panel p1-pan1 changed: each variant has objects of its own."""
    plan = make_plan()
    return plan.model_copy(
        update={
            "chapters": [
                c.model_copy(
                    update={
                        "pages": [
                            p.model_copy(
                                update={
                                    "panels": [
                                        k.model_copy(update={"action": f"{k.action} (take {n})"})
                                        if k.id == "p1-pan1"
                                        else k
                                        for k in p.panels
                                    ]
                                }
                            )
                            for p in c.pages
                        ]
                    }
                )
                for c in plan.chapters
            ]
        }
    )


def render(out: Path, n: int, **kw):
    kw.setdefault("settings", SETTINGS)
    summary = render_plan(variant(n), backend=FakeBackend(), output_dir=out, progress=False, **kw)
    assert summary.ok, summary
    return summary


def files_decode(run_dir: Path) -> None:
    pngs = list(run_dir.rglob("*.png"))
    assert pngs
    for png in pngs:
        with Image.open(png) as img:
            img.load()
    for pdf in run_dir.glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF")
    for cbz in run_dir.glob("*.cbz"):
        with zipfile.ZipFile(cbz) as zf:
            assert zf.testzip() is None


def object_keys(out: Path) -> set[str]:
    return {p.stem for p in (out / "cache" / "objects").glob("*/*.json")}


@pytest.fixture
def five_runs(tmp_path):
    summaries = [render(tmp_path, n) for n in range(5)]
    for i, s in enumerate(summaries):  # distinct, increasing finish times
        manifest = s.run_dir / "run.json"
        text = manifest.read_text(encoding="utf-8")
        stamp = f"2026-01-0{i + 1}T00:00:00+00:00"
        data = json.loads(text)
        data["finished_at"] = stamp
        manifest.write_text(json.dumps(data), encoding="utf-8")
    return tmp_path, summaries


def test_prune_keeps_the_newest_runs_and_only_their_cache_objects(five_runs):
    out, summaries = five_runs
    before = object_keys(out)
    catalog = read_catalog(out)
    keys_of = {s.run_id: set(catalog[catalog.run_id == s.run_id].cache_key.dropna()) for s in summaries}
    kept_runs, removed_runs = summaries[3:], summaries[:3]
    needed = set().union(*(keys_of[s.run_id] for s in kept_runs))
    only_removed = set().union(*(keys_of[s.run_id] for s in removed_runs)) - needed
    assert only_removed  # each variant rendered a panel (and its page, PDF, CBZ) of its own

    dry = prune_outputs(out, keep=2, dry_run=True)
    assert [p.name for p in dry.runs_removed] == [s.run_id for s in reversed(removed_runs)]
    assert dry.bytes_freed > 0 and object_keys(out) == before and all(s.run_dir.exists() for s in summaries)

    report = prune_outputs(out, keep=2)
    assert str(report).startswith("removed 3 run(s) (kept 2), ")
    assert report.bytes_freed == dry.bytes_freed and report.objects_removed == len(only_removed & before)
    assert not any(s.run_dir.exists() for s in removed_runs)
    after = object_keys(out)
    assert needed & before <= after  # every object a kept run references is still there
    assert not (only_removed & after)  # and only unreferenced ones went
    for s in kept_runs:
        files_decode(s.run_dir)
    catalog = read_catalog(out)
    assert set(catalog.run_id) == {s.run_id for s in kept_runs}
    assert not list((out / CATALOG_RUNS_DIR).glob("*.parquet"))  # compacted
    again = render(out, 4)  # the cache still serves the kept variant
    assert again.counts.panels_rendered == 0


def test_prune_by_age_and_the_cli(five_runs, capsys):
    out, summaries = five_runs
    now = datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()  # runs finished on Jan 1, 2, 3, 4, 5 at 00:00
    assert prune_outputs(out, older_than=parse_age("30d"), now=now, dry_run=True).runs_removed == []
    old = prune_outputs(out, older_than=parse_age("2d"), now=now, dry_run=True).runs_removed
    assert sorted(p.name for p in old) == sorted(s.run_id for s in summaries[:3])
    both = prune_outputs(out, older_than=parse_age("2d"), keep=4, now=now, dry_run=True).runs_removed
    assert [p.name for p in both] == [summaries[0].run_id]
    code = main(["prune", "--output-dir", str(out), "--keep", "4", "--dry-run"])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0 and printed[0] == f"would remove {summaries[0].run_dir}"
    assert printed[-1].startswith("would remove 1 run(s) (kept 4)") and "would free" in printed[-1]
    assert main(["prune", "--output-dir", str(out)]) == 2
    assert capsys.readouterr().err.startswith("say what to prune")


def test_parse_age():
    assert parse_age("30d") == 30 * 86400 and parse_age("12h") == 43200 and parse_age("90") == 90
    with pytest.raises(ValueError):
        parse_age("a month")


def test_identical_forced_re_renders_share_their_bytes(tmp_path):
    first = render(tmp_path, 0)
    second = render(tmp_path, 0, settings=SETTINGS.model_copy(update={"force": True}))
    assert second.counts.panels_rendered > 0  # really rendered again
    for a in (first.run_dir / "panels").glob("*.png"):
        assert os.path.samefile(a, second.run_dir / "panels" / a.name)
    for a in first.pages:
        assert os.path.samefile(a, second.run_dir / a.relative_to(first.run_dir))


def test_the_catalog_is_one_file_per_run_plus_a_compacted_base(tmp_path):
    a = render(tmp_path, 0)
    b = render(tmp_path, 1)
    files = {p.name for p in (tmp_path / CATALOG_RUNS_DIR).iterdir() if p.suffix == ".parquet"}
    assert files == {f"run-{a.run_id}.parquet", f"run-{b.run_id}.parquet"}
    before = read_catalog(tmp_path)
    assert compact_catalog(tmp_path) == len(before)
    assert (tmp_path / CATALOG_FILE).exists()
    after = read_catalog(tmp_path)
    key = ["run_id", "kind", "artifact_id"]
    assert after.sort_values(key).reset_index(drop=True).equals(before.sort_values(key).reset_index(drop=True))
    c = render(tmp_path, 2)  # a new run after compaction gets its own file again
    assert set(read_catalog(tmp_path).run_id) == {a.run_id, b.run_id, c.run_id}
    assert {p.name for p in (tmp_path / CATALOG_RUNS_DIR).iterdir() if p.suffix == ".parquet"} == {
        f"run-{c.run_id}.parquet"
    }


def test_merged_levels_keep_the_latest_row_per_key(tmp_path, monkeypatch):
    from storybench.batch import catalog as catalog_module
    from storybench.batch import upsert_catalog_rows

    monkeypatch.setattr(catalog_module, "FANOUT", 3)
    expected = {}
    for i in range(60):
        run = f"r{i % 13}"  # runs come back (resumed) after their files were merged into levels
        rows = [{"run_id": run, "kind": "panel", "artifact_id": f"a{j}", "attempts": i} for j in range(i % 4 + 1)]
        upsert_catalog_rows(tmp_path, rows)
        expected.update({(run, f"a{j}"): i for j in range(i % 4 + 1)})
    levels = catalog_module._levels(tmp_path)
    assert max(levels) >= 2 and all(len(files) < 3 for files in levels.values())
    df = read_catalog(tmp_path)
    got = {(r.run_id, r.artifact_id): r.attempts for r in df.itertuples()}
    assert got == expected
    assert compact_catalog(tmp_path) == len(expected) and read_catalog(tmp_path).shape == df.shape
