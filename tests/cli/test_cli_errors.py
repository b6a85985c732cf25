"""Every bad input to the CLI is a sentence: exit code, first line, and never a traceback."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import papermill as pm
import pytest

from storybench.cli import main

ROOT = Path(__file__).parents[2]
KITSUMY = Path(__file__).parents[1] / "data" / "kitsumy_plan.json"
TEST_KEY = "tk-test-5f0e1d2c3b4a"  # not a real key


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storybench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_main(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err.splitlines()


# -- plan files (subprocess: the real command) ----------------------------------------------
def test_a_folder_as_the_plan(tmp_path):
    proc = cli("validate", str(tmp_path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == f"{tmp_path}: is a folder, not a file"


def test_a_missing_plan(tmp_path):
    proc = cli("render", str(tmp_path / "nope.json"), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == f"{tmp_path / 'nope.json'}: no such file or folder"
    assert not (tmp_path / "out").exists()


def test_a_non_utf8_plan_names_the_byte_and_offset(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"title": "Café"}'.encode("latin-1"))
    proc = cli("validate", str(path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == (
        f"{path}:1: not UTF-8 text: byte 0xe9 at byte offset 14 (invalid continuation byte); "
        "plans are UTF-8 JSON: save the file as UTF-8"
    )


def test_deep_nesting_and_huge_integers(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"title": ' + "[" * 1000 + "]" * 1000 + "}", encoding="utf-8")
    proc = cli("validate", str(deep))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == f"{deep}:1:42: JSON nested deeper than 32 levels (a plan needs 9)"
    huge = tmp_path / "huge.json"
    huge.write_text(KITSUMY.read_text(encoding="utf-8").replace('"position": 2', '"position": ' + "7" * 5000))
    proc = cli("validate", str(huge))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"{huge}:") and first.endswith("a number of 5,000 digits; plan numbers have at most 40")


def test_an_unreadable_plan(tmp_path, capsys, monkeypatch):
    path = tmp_path / "locked.json"
    path.write_text("{}", encoding="utf-8")

    def denied(p):
        raise PermissionError(errno.EACCES, "Permission denied", str(p))

    monkeypatch.setattr("storybench.plan.loading.read_plan_text", denied)  # (tests may run as root)
    code, lines = run_main(capsys, "validate", str(path))
    assert code == 1
    assert lines == [f"{path}: permission denied", "check its permissions or choose another path"]


def test_debug_shows_the_traceback(tmp_path):
    proc = cli("--debug", "validate", str(tmp_path))
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "IsADirectoryError" in proc.stderr


# -- parameters ---------------------------------------------------------------------------
def test_an_unknown_parameter_fails_before_running_with_the_closest_names_first(tmp_path, capsys):
    code, lines = run_main(capsys, "render", str(KITSUMY), "--output-dir", str(tmp_path), "-p", "concurency", "2")
    assert code == 2
    assert lines[0].startswith("unknown notebook parameter 'concurency'; known (closest first): concurrency, ")
    assert lines[1] == "nothing was run: correct the -p name"
    assert not any(tmp_path.iterdir())


def test_nested_secret_options_are_refused_with_their_path(tmp_path, capsys):
    value = json.dumps({"url": "http://127.0.0.1:1", "headers": [{"Authorization": "Bearer " + TEST_KEY}]})
    code, lines = run_main(
        capsys, "render", str(KITSUMY), "--output-dir", str(tmp_path), "-p", "backend_options", value
    )
    assert code == 1 and TEST_KEY not in "\n".join(lines)
    assert lines[0].startswith("error: refusing parameter 'backend_options.headers[0].Authorization': secrets are")
    code, lines = run_main(capsys, "render", str(KITSUMY), "-p", "render_params", json.dumps({"Api_Key": "x"}))
    assert code == 1 and "'render_params.Api_Key'" in lines[0]


def test_a_secret_from_the_environment_under_an_innocent_name_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RUNWARE_API_KEY", TEST_KEY)
    code, lines = run_main(capsys, "render", str(KITSUMY), "-p", "render_params", json.dumps({"note": TEST_KEY}))
    assert code == 1 and TEST_KEY not in "\n".join(lines)
    assert lines[0] == (
        "error: refusing parameter 'render_params.note': it holds the value of $RUNWARE_API_KEY; "
        "secrets are never notebook parameters (backends read them from the environment)"
    )


# -- output folder: read-only, full disk (injected), a failing cell -------------------------
def test_a_read_only_output_folder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    real_mkdir = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    code, lines = run_main(capsys, "render", str(KITSUMY), "--output-dir", str(out))
    assert code == 1
    assert lines == [f"{out / '.notebooks'}: the file system is read-only", "choose a writable path"]


def test_a_full_disk_leaves_no_truncated_notebook(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"

    def execute_notebook(input_path, output_path, **kwargs):
        Path(output_path).write_text('{"cells": [{"cell_type": "code", "sour', encoding="utf-8")  # torn
        raise OSError(errno.ENOSPC, "No space left on device", output_path)

    monkeypatch.setattr(pm, "execute_notebook", execute_notebook)
    code, lines = run_main(capsys, "render", str(KITSUMY), "--output-dir", str(out))
    assert code == 1
    assert lines[0].endswith(".ipynb: no space left on the device (nothing was left half-written)")
    assert lines[1].startswith("free some space (e.g. storybench prune --keep 3)")
    assert list((out / ".notebooks").iterdir()) == []


def test_a_full_disk_inside_the_notebook_is_explained(tmp_path, capsys, monkeypatch):
    def execute_notebook(input_path, output_path, **kwargs):
        Path(output_path).write_text(json.dumps({"cells": [], "metadata": {}}), encoding="utf-8")
        evalue = "[Errno 28] No space left on device: '/srv/out/p/r/page-001.png'"
        raise pm.PapermillExecutionError(3, 3, "render_plan(...)", "OSError", evalue, [])

    monkeypatch.setattr(pm, "execute_notebook", execute_notebook)
    code, lines = run_main(capsys, "render", str(KITSUMY), "--output-dir", str(tmp_path))
    assert code == 1
    assert lines[0] == (
        "render failed: /srv/out/p/r/page-001.png: no space left on the device (nothing was left half-written)"
    )


def test_orphaned_notebooks_are_cleaned_keeping_the_newest(tmp_path, capsys, monkeypatch):
    work = tmp_path / ".notebooks"
    work.mkdir()
    old = time.time() - 7200
    for i in range(8):
        nb = work / f"plan-{i:08x}.ipynb"
        nb.write_text("{}", encoding="utf-8")
        os.utime(nb, (old + i, old + i))
    (work / "plan-00000000.result.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(pm, "execute_notebook", lambda *a, **k: None)  # nothing runs, nothing is written
    run_main(capsys, "render", str(KITSUMY), "--output-dir", str(tmp_path))
    left = sorted(p.name for p in work.iterdir())
    assert left == [f"plan-{i:08x}.ipynb" for i in range(3, 8)]


# -- real notebooks: secrets scrubbed, Ctrl-C ------------------------------------------------
LEAKY_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": 'plan_path = ""\nbackend = "storyboard"\noutput_dir = ""\nresult_path = ""\n',
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": textwrap.dedent(
                """\
                import json, os
                from pathlib import Path
                print("a careless debug line:", os.environ["RUNPOD_API_KEY"])
                run_dir = Path(output_dir) / "leaky" / "run-1"
                run_dir.mkdir(parents=True, exist_ok=True)
                Path(result_path).write_text(json.dumps({"run_dir": str(run_dir), "summary": "done"}))
                """
            ),
            "outputs": [],
            "execution_count": None,
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_an_executed_notebook_never_contains_the_key(tmp_path):
    notebook = tmp_path / "leaky.ipynb"
    notebook.write_text(json.dumps(LEAKY_NOTEBOOK), encoding="utf-8")
    out = tmp_path / "out"
    env = {"STORYBENCH_BATCH_NOTEBOOK": str(notebook), "RUNPOD_API_KEY": TEST_KEY}
    proc = cli("render", str(KITSUMY), "--output-dir", str(out), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    kept = out / "leaky" / "run-1" / "batch_render.ipynb"
    text = kept.read_text(encoding="utf-8")
    assert "a careless debug line: ***" in text and TEST_KEY not in text
    for path in out.rglob("*"):
        if path.is_file():
            assert TEST_KEY.encode() not in path.read_bytes(), path


def test_ctrl_c_during_a_render_is_one_line_and_exit_130(tmp_path):
    out = tmp_path / "out"
    plan = json.loads(KITSUMY.read_text(encoding="utf-8"))
    page = plan["chapters"][0]["pages"][0]
    plan["chapters"][0]["pages"] = [dict(page, id=f"p{n}", pageNumber=n) for n in range(1, 13)]
    for n, p in enumerate(plan["chapters"][0]["pages"], 1):
        p["panels"] = [dict(panel, id=f"p{n}-{panel['id']}") for panel in p["panels"]]
    path = tmp_path / "long.json"
    path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "storybench", "render", str(path), "--output-dir", str(out), "-p", "concurrency", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("*/*/panels/*.png")):
        time.sleep(0.2)  # until the kernel is rendering panels
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("Executing")]  # papermill's bar
    assert lines[-1] == "interrupted; run the same command again to resume (finished panels are kept)"
    assert "Traceback" not in stderr and "ZMQError" not in stderr and "DeadKernelError" not in stderr
    for nb in (out / ".notebooks").glob("*.ipynb"):  # what is left is a complete notebook
        json.loads(nb.read_text(encoding="utf-8"))


@pytest.mark.parametrize("args", [["schema"], ["validate", str(KITSUMY)]])
def test_good_input_still_works(args, capsys):
    code = main(args)
    assert code == 0 and "Traceback" not in capsys.readouterr().err


def test_the_batch_notebook_shows_bad_input_as_a_sentence(tmp_path):
    executed = tmp_path / "executed.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(ROOT / "notebooks" / "batch_render.ipynb"),
            str(executed),
            parameters={"plan_path": str(tmp_path), "output_dir": str(tmp_path / "out")},
            progress_bar=False,
            cwd=str(ROOT / "notebooks"),
        )
    assert info.value.ename == "IsADirectoryError"
    outputs = [o for c in json.loads(executed.read_text(encoding="utf-8"))["cells"] for o in c.get("outputs", [])]
    shown = "\n".join(
        "\n".join(o.get("traceback", [])) + o.get("text", "")
        for o in outputs
        if o.get("output_type") in ("error", "stream")
    )
    assert f"{tmp_path}: is a folder, not a file" in shown and "Traceback" not in shown and "File " not in shown
