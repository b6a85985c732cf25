"""Temporary files of killed writers, found by the writer's process id and swept.

Every atomic write (:func:`storybench.files.temp_name`) goes through a temporary
file named ``.<name>.<pid>-<random>.tmp`` beside its target. A writer that is
killed leaves it behind. A sweep removes such a file at once when its process is
gone (``os.kill(pid, 0)`` says no such process), and a file whose name carries
no process id (written by an older version) once it is older than
:data:`UNKNOWN_WRITER_AGE` seconds. A live writer's file is never touched.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

__all__ = ["UNKNOWN_WRITER_AGE", "sweep_temp_files", "writer_gone"]

#: Age (seconds) after which a temporary file without a writer pid counts as abandoned.
UNKNOWN_WRITER_AGE = 3600.0
_PID = re.compile(r"^\..+\.(\d+)-[0-9a-f]+\.tmp$")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def writer_gone(path: Path, *, now: float | None = None) -> bool:
    """Whether the process that was writing the temporary file ``path`` is gone.

    A name with a pid: that process no longer exists (the current process counts as
    alive). A name without one: the file is older than :data:`UNKNOWN_WRITER_AGE`.
    """
    match = _PID.match(path.name)
    if match:
        return not _pid_alive(int(match.group(1)))
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return False
    return (time.time() if now is None else now) - mtime > UNKNOWN_WRITER_AGE


def sweep_temp_files(folder: str | os.PathLike[str], *, recursive: bool = True) -> int:
    """Delete the temporary files (``.<name>.*.tmp``) in ``folder`` whose writer is gone
    (see :func:`writer_gone`); symbolic links to folders are not followed.

    Returns:
        How many were removed.
    """
    root = Path(folder)
    if not root.is_dir() or root.is_symlink():
        return 0
    removed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if not recursive:
            dirnames.clear()
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") and name.endswith(".tmp") and writer_gone(path):
                try:
                    path.unlink()
                    removed += 1
                except OSError:
                    pass
    return removed
