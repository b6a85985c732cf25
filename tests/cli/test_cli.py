import json
import subprocess
import sys
from pathlib import Path

from storybench.cli import main

ROOT = Path(__file__).parents[2]
INVALID = Path(__file__).parents[1] / "data" / "invalid_grid_three_panels.json"


def test_validate_accepts_a_valid_plan(capsys):
    assert main(["validate", str(ROOT / "plans" / "noir-rain-alley.json")]) == 0
    assert "valid plan 'noir-rain-alley': 1 chapter(s), 1 page(s), 5 panel(s)" in capsys.readouterr().out


def test_validate_rejects_three_panels_on_a_grid_with_path_and_count():
    proc = subprocess.run(
        [sys.executable, "-m", "storybench", "validate", str(INVALID)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "chapters[0].pages[1].panels: layout 'grid-2x2' needs 4 panels, got 3" in proc.stderr


def test_validate_missing_file(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_schema_prints_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "ComicPlan" and "chapters" in schema["properties"]


def test_render_refuses_secret_parameters(capsys):
    code = main(["render", str(ROOT / "plans" / "noir-rain-alley.json"), "-p", "api_key", "sk-123"])
    assert code == 1
    err = capsys.readouterr().err
    assert "secrets are never notebook parameters" in err and "sk-123" not in err


def test_render_rejects_invalid_plan_before_running(capsys, tmp_path):
    assert main(["render", str(INVALID), "--output-dir", str(tmp_path)]) == 1
    assert "layout 'grid-2x2' needs 4 panels, got 3" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _render(plan_path, out, *extra):
    proc = subprocess.run(
        [sys.executable, "-m", "storybench", "render", str(plan_path), "--output-dir", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


def test_render_runs_the_notebook_caches_and_rerenders_only_what_changed(tmp_path):
    from PIL import Image

    from storybench.batch import read_catalog

    out = tmp_path / "out"
    first = _render(ROOT / "plans" / "noir-rain-alley.json", out)
    assert first.returncode == 0, first.stderr
    assert "panels: 5 rendered, 0 cache hits, 0 failed" in first.stdout
    run_dir = Path(first.stdout.split("run folder: ")[1].splitlines()[0])
    assert (run_dir / "batch_render.ipynb").is_file()
    assert (run_dir / "noir-rain-alley.pdf").is_file() and (run_dir / "noir-rain-alley.cbz").is_file()
    pages = sorted((run_dir / "pages").glob("*.png"))
    assert len(pages) == 1
    Image.open(pages[0]).verify()
    nb = json.loads((run_dir / "batch_render.ipynb").read_text(encoding="utf-8"))
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "noir-rain-alley.json" in "".join(injected[0]["source"])

    second = _render(ROOT / "plans" / "noir-rain-alley.json", out)
    assert second.returncode == 0, second.stderr
    assert "panels: 0 rendered, 5 cache hits, 0 failed" in second.stdout

    plan = json.loads((ROOT / "plans" / "noir-rain-alley.json").read_text(encoding="utf-8"))
    plan["chapters"][0]["pages"][0]["panels"][3]["action"] = "A black sedan speeds away into the rain"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(plan), encoding="utf-8")
    third = _render(changed, out)
    assert third.returncode == 0, third.stderr
    assert "panels: 1 rendered, 4 cache hits, 0 failed" in third.stdout
    assert "pages: 1 composed, 0 reused, 0 failed" in third.stdout

    catalog = read_catalog(out)
    runs = catalog.groupby("run_id")
    assert len(runs) == 3
    assert set(catalog[catalog.kind == "panel"].status) == {"completed"}
    assert not catalog.duplicated(["run_id", "kind", "panel_id", "page_number"]).any()


def test_render_failure_exits_non_zero_and_keeps_the_notebook(tmp_path):
    proc = _render(ROOT / "plans" / "noir-rain-alley.json", tmp_path / "out", "--backend", "no-such-backend")
    assert proc.returncode == 1
    assert "unknown image backend 'no-such-backend'" in proc.stderr
    assert "executed notebook:" in proc.stderr
