"""notebooks/publish.ipynb run by papermill against the local platform, and the token grep:
every output, log, ledger, catalog row and the executed notebook are free of the token."""

from __future__ import annotations

import json
import logging
import os

import pytest

pytest.importorskip("grpc")
pytest.importorskip("moto")
pm = pytest.importorskip("papermill")
from publish_support import MAVKA, ROOT, WORLD, platform, render_run, token  # noqa: E402, F401

from storybench.publish.cli import add_publish_command  # noqa: E402, F401

NOTEBOOK = ROOT / "notebooks" / "publish.ipynb"


@pytest.mark.slow
def test_notebook_publishes_and_no_token_anywhere(platform, tmp_path, token, capsys, caplog, monkeypatch):
    out = tmp_path / "outputs"
    run = render_run(MAVKA, out)
    monkeypatch.setenv("STORYBENCH_OUTPUT_DIR", str(out))
    result = tmp_path / "result.json"
    executed = tmp_path / "publish-executed.ipynb"
    with caplog.at_level(logging.DEBUG):
        pm.execute_notebook(
            str(NOTEBOOK),
            str(executed),
            parameters={"source": str(run), "world_id": WORLD, "dry_run": False, "result_path": str(result)},
            cwd=str(NOTEBOOK.parent),
            progress_bar=False,
            kernel_name="python3",
        )
    counts = json.loads(result.read_text(encoding="utf-8"))
    assert counts["created"] == {"characters": 2, "media": 5, "posts": 3}
    assert platform.counts(WORLD) == {"characters": 2, "confirmed_media": 5, "posts": 3, "s3_objects": 5}
    # the CLI on the same run: nothing new, and its output is kept for the grep
    from storybench.cli import main

    assert main(["publish", str(run), "--world", WORLD, "--no-llm", "-v"]) == 0
    printed = capsys.readouterr()
    assert "created 0 character(s), 0 media, 0 post(s)" in printed.out
    secret = token.encode()
    checked = 0
    for path in [*out.rglob("*"), executed, result]:
        if path.is_file():
            assert secret not in path.read_bytes(), path
            checked += 1
    assert checked > 10
    assert token not in printed.out + printed.err + caplog.text
    assert os.environ["STORYBENCH_PUBLISH_TOKEN"] == token  # it was there all along


@pytest.mark.slow
def test_notebook_ends_in_the_clis_sentence_on_a_wrong_token(platform, tmp_path, monkeypatch, capsys):
    from storybench.cli import main

    out = tmp_path / "outputs"
    run = render_run(MAVKA, out)
    monkeypatch.setenv("STORYBENCH_PUBLISH_TOKEN", "not-the-token")
    platform.unavailable_first.clear()
    assert main(["publish", str(run), "--world", WORLD, "--no-llm", "--no-progress"]) == 1
    (cli_sentence,) = capsys.readouterr().err.strip().splitlines()
    executed = tmp_path / "publish-executed.ipynb"
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(
            str(NOTEBOOK),
            str(executed),
            parameters={"source": str(run), "world_id": WORLD, "dry_run": False},
            cwd=str(NOTEBOOK.parent),
            progress_bar=False,
            kernel_name="python3",
        )
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    errors = [o for c in notebook["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    (error,) = errors
    assert error["traceback"] == [cli_sentence]  # the sentence, no frames
    assert cli_sentence.startswith("error: publish GetPresignedUploadURL for avatar of character char-1")
    assert "UNAUTHENTICATED" in cli_sentence and "Traceback" not in json.dumps(error)
