"""``storybench prune`` killed (SIGKILL, a real process) at every deletion step of a
10-run folder, then run again: no catalog row ever names a missing file, and the
second prune ends where an uninterrupted one would. And a prune never leaves its
folder: a symbolic link to another folder holding a run is neither followed nor
written through.

Each step is one file-system change the prune process makes (``os.unlink``,
``os.rmdir``, ``os.replace``, ``os.rename``); inside the removal of a run folder
only its first three changes count as steps (the others are the same kind of step).
The kill happens just before the change. The reference run and one kill in the
middle use a new ``python`` process running the CLI; the other kills fork this test
process (the same code, without the start-up time) and kill the child. ``PRUNE_TABLE=path`` writes the table of
every case there.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from engine_support import FakeBackend, make_plan, small_settings

from storybench.batch import read_catalog, render_plan
from storybench.batch.prune import prune_outputs
from storybench.batch.prune_safety import JOURNAL
from storybench.cli import main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SETTINGS = small_settings(page_width=400, page_height=600, dpi=100, margin=20, gutter=10)

HOOK = r"""
import os, sys
sys.path.insert(0, os.environ["HOOK_DIR"])
from test_prune_crash import install_kill_hook
install_kill_hook(int(os.environ["KILL_AT"]), os.environ["KILL_LOG"])
from storybench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def install_kill_hook(kill_at: int, log: str) -> None:
    """Count this process's file-system changes; SIGKILL itself just before change ``kill_at``
    (writing what it was about to do to ``log``); at exit write ``total <n>`` there."""
    state = {"count": 0, "in_tree": 0}

    def step(op: str, path: object) -> None:
        frames = [f.name for f in traceback.extract_stack()]
        if "rmtree" in frames or "_rmtree_safe_fd" in frames:
            state["in_tree"] += 1
            if state["in_tree"] > 3:
                return
        else:
            state["in_tree"] = 0
        state["count"] += 1
        if state["count"] == kill_at:
            Path(log).write_text(f"{op} {os.path.basename(str(path))}")
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(name: str) -> None:
        real = getattr(os, name)

        def call(*args, **kwargs):
            step(name, args[0])
            return real(*args, **kwargs)

        setattr(os, name, call)

    for name in ("unlink", "remove", "rmdir", "replace", "rename"):
        wrap(name)
    atexit.register(lambda: Path(log).write_text(f"total {state['count']}"))


def variant(n: int):
    plan = make_plan()
    chapters = []
    for c in plan.chapters:
        pages = []
        for p in c.pages:
            panels = [
                k.model_copy(update={"action": f"{k.action} (take {n})"}) if k.id == "p1-pan1" else k for k in p.panels
            ]
            pages.append(p.model_copy(update={"panels": panels}))
        chapters.append(c.model_copy(update={"pages": pages}))
    return plan.model_copy(update={"chapters": chapters})


@pytest.fixture(scope="module")
def ten_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ten") / "out"
    for n in range(10):
        summary = render_plan(variant(n), backend=FakeBackend(), output_dir=out, progress=False, settings=SETTINGS)
        assert summary.ok
        data = json.loads((summary.run_dir / "run.json").read_text(encoding="utf-8"))
        data["finished_at"] = f"2026-01-{n + 1:02d}T00:00:00+00:00"
        (summary.run_dir / "run.json").write_text(json.dumps(data), encoding="utf-8")
    return out


def missing_rows(out: Path) -> int:
    """Catalog rows whose file does not exist."""
    df = read_catalog(out)
    paths = [p for p in df.path.dropna()]
    return sum(not (out / p).exists() for p in paths)


def run_dirs(out: Path) -> list[Path]:
    return sorted(
        p
        for plan in out.iterdir()
        if plan.is_dir() and plan.name not in ("cache", "catalog.d", ".notebooks")
        for p in plan.iterdir()
        if p.is_dir()
    )


def killed_prune(out: Path, step: int, hook: Path, log: Path) -> tuple[int, str]:
    """``storybench prune --keep 1`` in a new Python process, killed at ``step`` (0: never)."""
    env = dict(
        os.environ,
        KILL_AT=str(step),
        KILL_LOG=str(log),
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE.parent)]),
        HOOK_DIR=str(HERE),
    )
    proc = subprocess.run(
        [sys.executable, str(hook), "prune", "--output-dir", str(out), "--keep", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, log.read_text() if log.exists() else ""


def forked_prune(out: Path, step: int, log: Path) -> tuple[int, str]:
    """The same command in a forked copy of this process (no start-up cost), killed at ``step``."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            install_kill_hook(step, str(log))
            code = main(["prune", "--output-dir", str(out), "--keep", "1"])
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, log.read_text() if log.exists() else ""


@pytest.mark.slow
def test_a_prune_killed_at_every_step_leaves_no_row_without_its_file(ten_runs, tmp_path):
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    log = tmp_path / "kill.log"
    reference = tmp_path / "reference"
    subprocess.run(["cp", "-a", str(ten_runs), str(reference)], check=True)  # keeps the hard links
    assert missing_rows(reference) == 0 and len(run_dirs(reference)) == 10
    code, said = killed_prune(reference, 0, hook, log)
    assert code == 0 and said.startswith("total ")
    steps = int(said.split()[1])
    expected = [p.name for p in run_dirs(reference)]
    assert len(expected) == 1 and steps > 20
    rows = []
    for k in range(1, steps + 1):
        case = tmp_path / f"k{k}"
        subprocess.run(["cp", "-a", str(ten_runs), str(case)], check=True)
        log.unlink(missing_ok=True)
        code, said = killed_prune(case, k, hook, log) if k == steps // 2 else forked_prune(case, k, log)
        assert code == -9, (k, code)
        after_kill = missing_rows(case)
        runs_after_kill = len(run_dirs(case))
        prune_outputs(case, keep=1)  # the next prune finishes the job
        after_again = missing_rows(case)
        rows.append((k, said, runs_after_kill, after_kill, after_again, len(run_dirs(case))))
        assert after_kill == 0 and after_again == 0, rows[-1]
        assert [p.name for p in run_dirs(case)] == expected and not (case / JOURNAL).exists(), rows[-1]
        assert set(read_catalog(case).run_id) == set(expected)
        shutil.rmtree(case)
    if os.environ.get("PRUNE_TABLE"):
        lines = [
            "| step | killed before | runs left after kill | rows w/o file after kill | after next prune | runs left |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [f"| {k} | `{s}` | {a} | {b} | {c} | {d} |" for k, s, a, b, c, d in rows]
        Path(os.environ["PRUNE_TABLE"]).write_text("\n".join(lines) + "\n")


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_a_prune_never_follows_a_link_out_of_its_folder(ten_runs, tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    subprocess.run(["cp", "-a", str(ten_runs), str(outside)], check=True)
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(ten_runs), str(out)], check=True)
    plan_dir = next(p for p in outside.iterdir() if p.is_dir() and p.name not in ("cache", "catalog.d"))
    victim = sorted(plan_dir.iterdir())[0]
    (out / "linked-plan").symlink_to(plan_dir, target_is_directory=True)  # a plan folder that is a link
    own_plan = next(p for p in out.iterdir() if p.is_dir() and p.name not in ("cache", "catalog.d", "linked-plan"))
    (own_plan / "linked-run").symlink_to(victim, target_is_directory=True)  # a run folder that is a link
    (out / "cache" / "objects" / "zz").symlink_to(outside / "cache" / "objects", target_is_directory=True)
    before = listing(outside)
    assert main(["prune", "--output-dir", str(out), "--keep", "0"]) == 0
    printed = capsys.readouterr().out
    assert listing(outside) == before  # nothing removed, nothing written (no run.lock), nothing touched
    assert victim.is_dir() and (victim / "run.json").is_file()
    assert f"skipped {out / 'linked-plan'}: a symbolic link" in printed
    assert f"skipped {own_plan / 'linked-run'}: a symbolic link" in printed
    assert f"skipped {out / 'cache' / 'objects' / 'zz'}: a symbolic link" in printed
    assert missing_rows(out) == 0
