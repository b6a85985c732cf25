"""Every failure as one or two sentences, never a traceback: the words the CLI prints.

The engine raises typed errors (:mod:`storybench.exceptions`, ``OSError``...); this
module alone words them, for the ``storybench`` command (:mod:`storybench.cli`, through
:mod:`storybench.cli_errors`), for the batch notebook (:func:`show_errors_as_sentences`)
and for the runner that reports a failed notebook to the CLI
(:mod:`storybench.batch.plan_runner`). It sits just above :mod:`storybench.plan` (it uses
:func:`~storybench.plan.text.show_value`) and imports nothing else of storybench.

:func:`explain` turns an exception into :class:`Explained` — the lines to print
(the first names the file and what went wrong, the second what to do) and the exit
code. ``storybench --debug ...`` (or ``STORYBENCH_DEBUG=1``) shows the traceback instead.

Exit codes: ``1`` bad input or a failed render, ``2`` a usage error (unknown
parameter), ``130`` interrupted (Ctrl-C, as shells report SIGINT).

What is explained (the file is named from the exception):

================================  ==============================================
missing file or folder            ``plan.json: no such file or folder; check the path``
a folder given as a file          ``plans: is a folder, not a file; give the path of a plan .json file``
permission denied                 ``...: permission denied; check its permissions or choose another path``
read-only file system             ``...: the file system is read-only; choose a writable --output-dir``
no space left (ENOSPC, EDQUOT)    ``...: no space left on the device; free space (storybench prune) or ...``
other OS errors                   ``...: <strerror>``
non-UTF-8 text                    ``...: not UTF-8 text: byte 0xff at byte offset 12``
invalid plans                     the plan's problems with their JSON paths (:class:`PlanValidationError`)
nesting, huge numbers, memory     ``RecursionError``, the 4,300-digit ``ValueError``, ``MemoryError``
Ctrl-C                            ``interrupted; run the same command again to resume``
a failed notebook cell            its error, itself explained when it is one of the above
================================  ==============================================
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from typing import Any

from storybench.exceptions import PlanValidationError, StorybenchError, UsageError
from storybench.plan.text import show_value

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "Explained",
    "explain",
    "explain_os_error",
    "show_errors_as_sentences",
    "validation_sentence",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\][^:]*(?::\s*'([^']*)')?")


@dataclass
class Explained:
    """What to print for a failure, and the exit code.

    Attributes:
        lines: one or two lines: what went wrong (naming the file), then what to do.
        exit_code: the process exit code.
    """

    lines: list[str] = field(default_factory=list)
    exit_code: int = EXIT_FAILED


def _name(value: Any) -> str:
    text = str(value) if value is not None else ""
    return text if len(text) <= 200 else show_value(text, 200)


def explain_os_error(exc: OSError, *, what: str = "path") -> list[str]:
    """One or two lines for an :class:`OSError`, naming its file.

    Args:
        exc: the error.
        what: what the file is, for the advice (``"plan"``, ``"--output-dir"``).
    """
    where = _name(exc.filename) or "(unknown file)"
    if exc.filename2:
        where += f" -> {_name(exc.filename2)}"
    lines = _path_shape_lines(exc, where) or _storage_lines(exc, where, what)
    return lines or [f"{where}: {exc.strerror or type(exc).__name__}"]


def _path_shape_lines(exc: OSError, where: str) -> list[str] | None:
    """The lines for a path that does not exist or is a file/folder where the other is needed."""
    code = exc.errno
    if isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
        return [f"{where}: no such file or folder", "check the path"]
    if isinstance(exc, IsADirectoryError) or code == errno.EISDIR:
        return [f"{where}: is a folder, not a file", "give the path of a file (a plan is a .json file)"]
    if isinstance(exc, NotADirectoryError) or code == errno.ENOTDIR:
        return [f"{where}: a part of this path is a file, not a folder", "check the path"]
    return None


def _storage_lines(exc: OSError, where: str, what: str) -> list[str] | None:
    """The lines for a read-only file system, a refused permission or a full device."""
    code = exc.errno
    if code == errno.EROFS:
        return [f"{where}: the file system is read-only", f"choose a writable {what}"]
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return [f"{where}: permission denied", f"check its permissions or choose another {what}"]
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return [
            f"{where}: no space left on the device (nothing was left half-written)",
            "free some space (e.g. storybench prune --keep 3) or choose another --output-dir, then run again",
        ]
    return None


_ALLOWED = {
    "greater_than_equal": "at least {ge}",
    "greater_than": "more than {gt}",
    "less_than_equal": "at most {le}",
    "less_than": "less than {lt}",
    "string_too_long": "at most {max_length} characters",
    "string_too_short": "at least {min_length} characters",
    "string_pattern_mismatch": "text matching {pattern}",
    "literal_error": "one of {expected}",
    "enum": "one of {expected}",
}


#: A location step pydantic adds for a member of a union (``str``, ``list[str]``,
#: ``is-instance[WorkflowTemplate]``...), not a field name.
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|none|bytes|[a-z-]+\[.*\])$")


def _allowed(error: Any) -> str:
    """What pydantic's ``error`` (one entry of ``errors()``) says the value must be."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _ALLOWED:
        return _ALLOWED[kind].format(**ctx)
    for prefix, words in _KIND_WORDS:
        if kind.startswith(prefix):
            return words
    return str(error["msg"]).splitlines()[0].lower()


_KIND_WORDS = (
    ("int_", "a whole number"),
    ("float_", "a number"),
    ("bool", "true or false"),
    ("list", "a list"),
    ("dict", "an object"),
    ("model", "an object"),
    ("string", "text"),
    ("path", "a path"),
    ("is_instance", "an object made in Python"),
    ("callable", "a function"),
)


def validation_sentence(exc: Any, what: str) -> str:
    """The first problem of a pydantic ``ValidationError`` as one sentence, without
    pydantic's URL or line breaks: ``WHAT dpi: 'abc'; must be a whole number``. The
    members of a union are named together (``must be text or a list``).

    Args:
        exc: a :class:`pydantic.ValidationError`.
        what: what the location names (``"-p"``, ``"backend option"``).
    """
    errors = exc.errors(include_url=False)

    def place(error: Any) -> str:
        return ".".join(str(p) for p in error["loc"] if not (isinstance(p, str) and _UNION_MEMBER.match(p)))

    where = place(errors[0])
    here = [e for e in errors if place(e) == where]
    allowed = " or ".join(dict.fromkeys(_allowed(e) for e in here))
    others = len(errors) - len(here)
    more = f" (and {others} more problem(s))" if others else ""
    return f"{what} {where}: {show_value(here[0].get('input'), 60)}; must be {allowed}{more}"


def _plan_error(exc: PlanValidationError) -> list[str]:
    if len(exc.issues) == 1:
        issue = exc.issues[0]
        path = issue.path if issue.path != "$" else ""
        source = exc.source or ""
        if source and path.startswith(source):
            return [f"{path}: {issue.message}"]
        prefix = ": ".join(p for p in (source, path) if p)
        return [f"{prefix}: {issue.message}" if prefix else issue.message]
    return str(exc).splitlines()


def _from_notebook(ename: str, evalue: str) -> list[str] | None:
    """A failed cell's error, explained when it is an OS error we know."""
    match = _ERRNO_IN_TEXT.search(evalue)
    if match:
        code = int(match.group(1))
        filename = match.group(2)
        return explain_os_error(OSError(code, evalue, filename), what="--output-dir")
    if ename == "PlanValidationError":
        return [show_value(evalue, 400).strip("'")]
    return None


def explain(exc: BaseException) -> Explained:
    """The sentences and exit code for a failure of the command (see the module docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return Explained(
            ["interrupted; run the same command again to resume (finished panels are kept)"], EXIT_INTERRUPTED
        )
    explained = _explain_input_error(exc)
    return explained if explained is not None else _explain_failure(exc)


def _explain_input_error(exc: BaseException) -> Explained | None:
    """Usage, plan, text, OS and resource errors: caused by the input or the machine."""
    if isinstance(exc, UsageError):
        return Explained(str(exc).splitlines(), EXIT_USAGE)
    if isinstance(exc, PlanValidationError):
        return Explained(_plan_error(exc))
    if isinstance(exc, UnicodeDecodeError):
        return Explained(
            [f"not {exc.encoding} text: byte 0x{exc.object[exc.start]:02x} at byte offset {exc.start}"],
        )
    if isinstance(exc, OSError):
        return Explained(explain_os_error(exc))
    if isinstance(exc, RecursionError):
        return Explained(["the input is nested too deeply to read", "check the file; plans nest at most 9 levels"])
    if isinstance(exc, MemoryError):
        return Explained(["ran out of memory", "check the input's size (plans are limited to a few MB)"])
    return None


def _explain_failure(exc: BaseException) -> Explained:
    """Storybench errors, failed notebook cells, and anything unexpected."""
    if isinstance(exc, StorybenchError):
        return Explained([f"error: {line}" if i == 0 else line for i, line in enumerate(str(exc).splitlines()[:20])])
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError
        evalue = str(getattr(exc, "evalue", ""))
        lines = _from_notebook(str(ename), evalue) or [f"{ename}: {show_value(evalue, 300).strip(chr(39))}"]
        return Explained([f"render failed: {lines[0]}", *lines[1:]])
    text = str(exc)
    if isinstance(exc, ValueError) and "integer string conversion" in text:
        return Explained(["a number in the input has more than 4,300 digits", "check the file"])
    return Explained(
        [f"unexpected error: {type(exc).__name__}: {show_value(text, 200)}", "run with --debug for the traceback"]
    )


#: Errors a notebook shows as sentences (anything else keeps IPython's traceback).
NOTEBOOK_ERRORS: tuple[type[BaseException], ...] = (
    StorybenchError,
    OSError,
    UnicodeDecodeError,
    RecursionError,
    MemoryError,
)


def show_errors_as_sentences(shell: Any = None) -> bool:
    """In IPython/Jupyter, show bad input and OS errors as :func:`explain`'s sentences.

    The cell still fails (papermill still reports the error, with its type and
    message), but the output is one or two lines instead of a traceback; set
    ``STORYBENCH_DEBUG=1`` to keep tracebacks.

    Args:
        shell: the IPython shell (default: the running one).

    Returns:
        Whether a handler was installed (``False`` outside IPython or when debugging).
    """
    if os.environ.get("STORYBENCH_DEBUG"):
        return False
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False

    def handler(self: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        lines = explain(value).lines
        self._showtraceback(etype, value, lines)  # an error output (name, value, these lines), no frames
        return lines

    shell.set_custom_exc(NOTEBOOK_ERRORS, handler)
    return True
