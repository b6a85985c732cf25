"""`storybench render -p NAME VALUE`: every value checked before any kernel starts.

A wrong type or a value out of range is one sentence on stderr, exit code 2, and nothing
is written (no output folder, no orphan notebook); so is ``--parallel 0``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from storybench.cli import main

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "plans" / "noir-rain-alley.json"


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        (["-p", "dpi", '"abc"'], "-p dpi: 'abc'; must be a whole number; nothing was run"),
        (["-p", "concurrency", "-1"], "-p concurrency: -1; must be at least 0; nothing was run"),
        (["-p", "retries", "2.5"], "-p retries: 2.5; must be a whole number; nothing was run"),
        (["-p", "reading_direction", '"up"'], "-p reading_direction: 'up'; must be text matching ^(auto|ltr|rtl)$"),
        (["-p", "exports", '["pdf", "docx"]'], "-p exports.1: 'docx'; must be "),
        (["-p", "show_thumbnails", '"yes"'], "-p show_thumbnails: 'yes'; must be true or false; nothing was run"),
        (["-p", "backend_options", "[1]"], "-p backend_options: [1]; must be a JSON object"),
        (["-p", "output_dir", "5"], "-p output_dir: 5; must be text or null; nothing was run"),
        (
            ["--backend", "comfyui", "-p", "backend_options", '{"queue_depth": 0}'],
            "-p backend_options: backend option queue_depth: 0; must be at least 1; nothing was run",
        ),
        (
            ["--backend", "comfyui", "-p", "backend_options", '{"keep_output": true}'],
            "-p backend_options: unknown backend option 'keep_output'; the ComfyUI backend knows: url,",
        ),
    ],
)
def test_a_bad_parameter_value_is_one_sentence_exit_2_before_any_kernel(capsys, tmp_path, params, sentence):
    out = tmp_path / "out"
    t0 = time.monotonic()
    code = main(["render", str(PLAN), "--output-dir", str(out), *params])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(sentence) and err.count("\n") == 1, err  # one line, no pydantic URL
    assert "pydantic" not in err
    assert not out.exists()  # no output folder, so no orphan notebook
    assert time.monotonic() - t0 < 5  # before any kernel starts


def test_parallel_zero_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["render", str(PLAN), str(PLAN), "--parallel", "0", "--output-dir", str(tmp_path / "out")])
    assert info.value.code == 2
    assert "argument --parallel: 0 plans at once; must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
