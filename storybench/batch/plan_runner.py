"""One plan rendered by executing ``notebooks/batch_render.ipynb`` with papermill.

The executed notebook is written to ``<output_dir>/.notebooks/<plan_id>-<token>.ipynb``
while it runs and moved into the run folder (``batch_render.ipynb``) once the run
folder is known; the notebook reports the run (folder, id, status, summary) through a
``result_path`` JSON file, read and deleted here.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

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
    """

    plan_path: Path
    run_id: str | None
    run_dir: Path | None
    status: str
    summary: str
    error: str
    executed: Path
    seconds: float

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

    Returns:
        The run it made; a notebook that raised is returned with ``error`` set, not raised.

    Raises:
        KeyboardInterrupt: passed through (the run can be resumed).
    """
    import papermill as pm

    out = Path(output_dir).resolve()
    work = out / ".notebooks"
    work.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    executed = work / f"{plan_id}-{token}.ipynb"
    result_path = work / f"{plan_id}-{token}.result.json"
    parameters = dict(params or {})
    parameters.update(
        plan_path=str(Path(plan_path).resolve()), backend=backend, output_dir=str(out), result_path=str(result_path)
    )
    started = time.monotonic()
    error = ""
    try:
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
        error = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, notebook unreadable...: this plan fails, others go on
        error = f"{type(exc).__name__}: {exc}"
    result: dict[str, Any] = {}
    if result_path.exists():
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except ValueError:
            result = {}
        result_path.unlink(missing_ok=True)
    run_dir = Path(result["run_dir"]) if result.get("run_dir") else None
    kept = executed
    if run_dir is not None and executed.exists():
        kept = run_dir / NOTEBOOK_NAME
        os.replace(executed, kept)
    return NotebookRun(
        plan_path=Path(plan_path),
        run_id=result.get("run_id"),
        run_dir=run_dir,
        status=str(result.get("status") or "failed"),
        summary=str(result.get("summary") or ""),
        error=error,
        executed=kept,
        seconds=time.monotonic() - started,
    )
