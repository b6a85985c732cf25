import json
import subprocess
import sys
from pathlib import Path

import pytest

from storybench.cli import main

ROOT = Path(__file__).parent.parent
INVALID = Path(__file__).parent / "data" / "invalid_grid_three_panels.json"


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
