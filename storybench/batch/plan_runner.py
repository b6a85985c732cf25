"""One plan rendered by executing ``notebooks/batch_render.ipynb`` with papermill.

The executed notebook is written to ``<output_dir>/.notebooks/<plan_id>-<token>.ipynb``
while it runs and moved into the run folder (``batch_render.ipynb``) once the run
folder is known; the notebook reports the run (folder, id, status, summary) through a
``result_path`` JSON file, read and deleted here. Before each run the orphans of
killed runs in ``.notebooks/`` are cleaned (:func:`storybench.notebook_run.clean_orphan_notebooks`);
after it the executed copy is checked (a torn one is deleted) and scrubbed of secrets;
the kernel's own stderr goes to ``kernel.log`` (kept with the run), so a Ctrl-C never
shows the kernel's shutdown tracebacks. With ``on_progress`` the notebook also writes its
progress to ``<plan_id>-<token>.events.jsonl`` beside it (:mod:`storybench.batch.progress_feed`),
read as it grows and handed to ``on_progress`` line by line, then deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from storybench.batch.progress_feed import follow_feed
from storybench.messages import explain
from storybench.notebook_run import clean_orphan_notebooks, kernel_stderr_to, settle_notebook
from storybench.redact import scrub_notebook

__all__ = ["NOTEBOOK_NAME", "NotebookRun", "execute_plan_notebook"]

NOTEBOOK_NAME = "batch_render.ipynb"


@dataclass
class NotebookRun:
    """The outcome of :func:`execute_plan_notebook`.

    Attributes:
        plan_path: the plan file.
        run_id, run_dir: the run (``None`` when the notebook stopped before starting one).
        status: the run's status (``completed``, ``failed``, ``cancelled``), or
            ``failed`` when the notebook raised before reporting one.
        summary: the run summary text printed by the notebook.
        error: ``"<exception name>: <message>"`` when the notebook raised, else ``""``.
        executed: where the executed notebook was kept.
        seconds: wall time of the execution (kernel start included), seconds.
        errors: the run's errors as its summary lists them (``[]`` when none were reported).
    """

    plan_path: Path
    run_id: str | None
    run_dir: Path | None
    status: str
    summary: str
    error: str
    executed: Path
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The notebook ran to the end and the run completed."""
        return not self.error and self.status == "completed"


def execute_plan_notebook(
    notebook: Path,
    plan_path: str | os.PathLike[str],
    *,
    plan_id: str,
    backend: str,
    output_dir: str | os.PathLike[str],
    params: dict[str, Any] | None = None,
    kernel: str | None = None,
    progress_bar: bool = True,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> NotebookRun:
    """Execute the batch notebook for one plan.

    Args:
        notebook: the batch notebook.
        plan_path: the plan file (made absolute).
        plan_id: the plan's id (names the working copy).
        backend: image backend name.
        output_dir: outputs folder (made absolute).
        params: other notebook parameters (never secrets).
        kernel: Jupyter kernel name (default: the notebook's).
        progress_bar: papermill's cell progress bar.
        stdout, stderr: stream the notebook's output there.
        on_progress: called (from a reader thread) with each progress line of the run as it
            happens: the engine's events and the backend's warnings (see
            :mod:`storybench.batch.progress_feed`).

    Returns:
        The run it made; a notebook that raised is returned with ``error`` set, not raised.

    Raises:
        KeyboardInterrupt: passed through (the run can be resumed).
    """
    import papermill as pm

    out = Path(output_dir).resolve()
    work = out / ".notebooks"
    work.mkdir(parents=True, exist_ok=True)
    clean_orphan_notebooks(work)
    token = uuid.uuid4().hex[:8]
    executed = work / f"{plan_id}-{token}.ipynb"
    result_path = work / f"{plan_id}-{token}.result.json"
    parameters = dict(params or {})
    parameters.update(
        plan_path=str(Path(plan_path).resolve()), backend=backend, output_dir=str(out), result_path=str(result_path)
    )
    started = time.monotonic()
    kernel_log = work / f"{plan_id}-{token}.kernel.log"
    with _progress_feed(work / f"{plan_id}-{token}.events.jsonl", on_progress, parameters):
        error = _execute(
            pm,
            notebook,
            executed,
            result_path,
            kernel_log,
            parameters,
            kernel=kernel,
            progress_bar=progress_bar,
            stdout=stdout,
            stderr=stderr,
        )
    if settle_notebook(executed):
        scrub_notebook(executed, parameters=parameters)
    if kernel_log.exists():
        scrub_notebook(kernel_log, parameters=parameters)
    result = _read_result(result_path)
    run_dir = Path(result["run_dir"]) if result.get("run_dir") else None
    kept = _move_into_run(executed, kernel_log, run_dir)
    return NotebookRun(
        plan_path=Path(plan_path),
        run_id=result.get("run_id"),
        run_dir=run_dir,
        status=str(result.get("status") or "failed"),
        summary=str(result.get("summary") or ""),
        error=error,
        executed=kept,
        seconds=time.monotonic() - started,
        errors=[str(e) for e in result.get("errors") or []],
    )


def _execute(
    pm: Any,
    notebook: Path,
    executed: Path,
    result_path: Path,
    kernel_log: Path,
    parameters: dict[str, Any],
    *,
    kernel: str | None,
    progress_bar: bool,
    stdout: TextIO | None,
    stderr: TextIO | None,
) -> str:
    """Run papermill; the notebook's error as a sentence (``""`` when it ran to the end).

    Raises:
        KeyboardInterrupt: Ctrl-C (or a kernel error it caused).
        OSError: the output folder is unusable.
    """
    interrupted = {"flag": False}
    try:
        with _guarded(kernel_log, interrupted):
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters=parameters,
                cwd=os.getcwd(),
                progress_bar=progress_bar,
                stdout_file=stdout,
                stderr_file=stderr,
                kernel_name=kernel,
            )
    except pm.PapermillExecutionError as exc:
        return _sentence(exc)
    except BaseException as exc:  # interrupted, disk full, kernel died: keep no torn or secret-bearing file
        if settle_notebook(executed):
            scrub_notebook(executed, parameters=parameters)
        result_path.unlink(missing_ok=True)
        if isinstance(exc, KeyboardInterrupt) or interrupted["flag"]:
            raise KeyboardInterrupt from None  # ZMQError, DeadKernelError... caused by the Ctrl-C
        if isinstance(exc, OSError):
            raise  # the output folder is unusable (full, read-only): the caller says so
        if not isinstance(exc, Exception):
            raise
        return _sentence(exc)  # kernel died, notebook unreadable...: this plan fails, others go on
    return ""


def _read_result(result_path: Path) -> dict[str, Any]:
    """The run the notebook reported (``{}`` when none or unreadable); the file is deleted."""
    result: dict[str, Any] = {}
    if result_path.exists():
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except ValueError:
            result = {}
        result_path.unlink(missing_ok=True)
    return result


def _move_into_run(executed: Path, kernel_log: Path, run_dir: Path | None) -> Path:
    """Move the executed notebook and kernel log into the run folder; where the notebook now is."""
    kept = executed
    if run_dir is not None and executed.exists():
        kept = run_dir / NOTEBOOK_NAME
        os.replace(executed, kept)
    if run_dir is not None and kernel_log.exists():
        os.replace(kernel_log, run_dir / "kernel.log")
    return kept


def _sentence(exc: BaseException) -> str:
    """A failed run's error as :func:`storybench.messages.explain` words it (lines joined by newlines)."""
    lines = list(explain(exc).lines)
    if lines and lines[0].startswith("render failed: "):
        lines[0] = lines[0][len("render failed: ") :]
    return "\n".join(lines)


@contextlib.contextmanager
def _progress_feed(
    events: Path, on_progress: Callable[[dict[str, Any]], None] | None, parameters: dict[str, Any]
) -> Iterator[None]:
    """With ``on_progress``: the notebook writes its progress to ``events`` (its
    ``events_path`` parameter), followed while inside and deleted at the end."""
    if on_progress is None:
        yield
        return
    parameters["events_path"] = str(events)
    stop = follow_feed(events, on_progress)
    try:
        yield
    finally:
        stop()
        events.unlink(missing_ok=True)


@contextlib.contextmanager
def _guarded(kernel_log: Path, interrupted: dict[str, bool]) -> Iterator[None]:
    """On the main thread: the kernel's stderr to ``kernel_log`` and Ctrl-C remembered
    (later kernel errors are its consequence). Elsewhere (parallel renders): nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted["flag"] = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with kernel_stderr_to(kernel_log):
            yield
    finally:
        signal.signal(signal.SIGINT, previous)
