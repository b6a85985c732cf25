"""The one exception tree of storybench.

Every error raised on purpose by storybench derives from :class:`StorybenchError`.
Errors from httpx, websockets, llama.cpp and the servers are converted at the
backend's edge (``raise ... from exc``; HTTP and websocket failures through the one
mapping in :mod:`storybench.http_errors`) so callers only ever catch these::

    StorybenchError
    ├── PlanValidationError        a plan (file or object) breaks the schema or its rules
    ├── ConfigError                a setting or parameter is unusable
    ├── UsageError                 a command-line parameter names nothing or has a bad value (exit 2)
    ├── UnknownBackendError        no backend registered under that name
    ├── MissingDependencyError     an optional extra is not installed
    ├── BackendError               a backend failed to do one piece of work
    │   ├── TransientBackendError  worth retrying (timeouts, 408/429/5xx, dropped sockets, OOM)
    │   │   ├── BackendUnavailable the server cannot be reached at all
    │   │   └── OutOfMemoryError   the GPU ran out of memory for one job
    │   ├── OutageError            the servers stayed unreachable past the outage budget
    │   └── PermanentBackendError  retrying the same request cannot help (other 4xx, bad workflow)
    │       ├── WorkflowError      a workflow template or its slots do not fit the server
    │       └── StructuredOutputError  an LLM answer never matched its JSON Schema
    ├── PublishError               publishing to a platform failed at one step (names step and object)
    │   ├── PublishRejected        the platform refused: invalid argument, permission, authentication
    │   └── PublishUncertain       items left undone rather than risk creating them twice
    ├── RetryExhausted             every attempt of a job failed; keeps the last error
    └── Cancelled                  the user cancelled a batch or a generation
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "Cancelled",
    "ConfigError",
    "MissingDependencyError",
    "OutOfMemoryError",
    "OutageError",
    "PermanentBackendError",
    "PlanIssue",
    "PlanValidationError",
    "PublishError",
    "PublishRejected",
    "PublishUncertain",
    "RetryExhausted",
    "StorybenchError",
    "StructuredOutputError",
    "TransientBackendError",
    "UnknownBackendError",
    "UsageError",
    "WorkflowError",
]


class StorybenchError(Exception):
    """Root of every error storybench raises on purpose."""


class PlanIssue:
    """One problem found in a plan.

    Attributes:
        path: JSON path of the offending place, e.g. ``chapters[0].pages[1].panels``;
            for a file error, ``file:line:column``.
        message: what is wrong, in plain words.
        value: the offending value (``None`` when not applicable).
    """

    __slots__ = ("message", "path", "value")

    def __init__(self, path: str, message: str, value: Any = None) -> None:
        self.path = path
        self.message = message
        self.value = value

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def __repr__(self) -> str:
        return f"PlanIssue({self.path!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlanIssue) and (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))


class PlanValidationError(StorybenchError, ValueError):
    """A plan breaks the schema or one of its rules.

    Attributes:
        issues: every problem found, each with its JSON path.
        source: the file the plan came from, when there was one.

    The message lists the first :attr:`MAX_LISTED` issues and counts the rest.
    """

    MAX_LISTED = 50

    def __init__(self, issues: Sequence[PlanIssue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        where = f"{source}: " if source else ""
        shown = self.issues[: self.MAX_LISTED]
        lines = "\n".join(f"  {issue}" for issue in shown)
        if len(self.issues) > len(shown):
            lines += f"\n  ... and {len(self.issues) - len(shown)} more"
        super().__init__(f"{where}invalid plan ({len(self.issues)} problem(s)):\n{lines}")


class ConfigError(StorybenchError, ValueError):
    """A setting, parameter or environment variable cannot be used."""


class UsageError(StorybenchError):
    """A command-line or notebook parameter names nothing known, or its value has the
    wrong type or range (the ``storybench`` command exits 2)."""


class UnknownBackendError(StorybenchError, LookupError):
    """No backend is registered under the requested name.

    Attributes:
        name: the requested name.
        known: the names that are registered.
    """

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown {kind} backend {name!r}; known: {', '.join(self.known) or 'none'}")


class MissingDependencyError(StorybenchError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, package: str) -> None:
        self.extra = extra
        super().__init__(f"{feature} needs the optional package {package!r}: pip install 'storybench[{extra}]'")


class BackendError(StorybenchError):
    """A backend failed to do one piece of work.

    Attributes:
        backend: the backend's registered name, e.g. ``"comfyui"``.
        url: the server URL involved, when there is one (never with credentials).
        hint: what the user should check.
    """

    transient = False

    def __init__(self, backend: str, message: str, *, url: str | None = None, hint: str | None = None) -> None:
        self.backend = backend
        self.url = url
        self.hint = hint
        text = f"[{backend}] {message}"
        if url:
            text += f" (url: {url})"
        if hint:
            text += f"; check: {hint}"
        super().__init__(text)


class TransientBackendError(BackendError):
    """A failure that may pass if the same request is tried again later.

    Attributes:
        retry_after: seconds the server asked us to wait before trying again (its
            ``Retry-After`` header), or ``None``; retry loops wait at least that long.
    """

    transient = True

    def __init__(
        self,
        backend: str,
        message: str,
        *,
        url: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(backend, message, url=url, hint=hint)


class BackendUnavailable(TransientBackendError):
    """The backend's server cannot be reached (connection refused, DNS, timeout)."""


class OutOfMemoryError(TransientBackendError):
    """The backend ran out of (GPU) memory while doing one job."""


class OutageError(BackendError):
    """A backend's servers stayed unreachable longer than its outage budget.

    Backends wait out an outage (a restart, a network blip) without spending a job's
    attempts; past the budget every waiting render raises this one error, which is not
    retried: the run ends ``failed`` and rendering again resumes it.

    Attributes:
        urls: the servers that were unreachable.
        since: when the last of them stopped answering, seconds since the epoch.
        seconds: how long they had been unreachable, seconds.
    """

    def __init__(self, backend: str, what: str, urls: Sequence[str], since: float, seconds: float) -> None:
        self.urls = list(urls)
        self.since = since
        self.seconds = seconds
        clock = time.strftime("%H:%M:%S", time.localtime(since))
        super().__init__(
            backend,
            f"{what} at {', '.join(self.urls)} unreachable since {clock} ({seconds:.0f} s)",
            hint="start the server, then render again: the run resumes where it stopped",
        )


class PermanentBackendError(BackendError):
    """A failure that the same request will hit again (bad input, missing model)."""


class WorkflowError(PermanentBackendError):
    """A workflow template does not fit: unresolved slots, missing nodes or models."""


class StructuredOutputError(PermanentBackendError):
    """An LLM never produced output matching the requested JSON Schema.

    Attributes:
        last_output: the text of the last attempt.
        attempts: how many attempts were made.
    """

    def __init__(self, backend: str, message: str, *, last_output: str = "", attempts: int = 1) -> None:
        self.last_output = last_output
        self.attempts = attempts
        super().__init__(backend, f"{message} after {attempts} attempt(s)")


class PublishError(StorybenchError):
    """Publishing to a platform failed at one step.

    Attributes:
        step: the protocol step, e.g. ``"CreateCharacter"``, ``"upload"``, ``"ConfirmUpload"``.
        obj: what was being published, e.g. ``"character char-1"``, ``"page 3"``.
        code: the gRPC status code name (``"UNAVAILABLE"``...) or HTTP status, when there is one.
        hint: what the user should check.
    """

    def __init__(self, step: str, obj: str, message: str, *, code: str = "", hint: str = "") -> None:
        self.step = step
        self.obj = obj
        self.code = code
        self.hint = hint
        text = f"publish {step} for {obj}: {message}"
        if code:
            text += f" [{code}]"
        if hint:
            text += f"; check: {hint}"
        super().__init__(text)


class PublishRejected(PublishError):
    """The platform refused a request (``INVALID_ARGUMENT``, ``PERMISSION_DENIED``,
    ``UNAUTHENTICATED``): sending it again cannot help."""


class PublishUncertain(PublishError):
    """A publish left items undone rather than risk creating them twice (a create call's
    answer was lost and the platform cannot tell whether it was made).

    Attributes:
        lines: one sentence per item, saying what to check and what to run.
        report: what the publish did otherwise (a ``PublishReport``).
    """

    def __init__(self, lines: list[str], report: object = None) -> None:
        self.lines = list(lines)
        self.report = report
        self.step, self.obj, self.code, self.hint = "resolve", "", "", ""
        StorybenchError.__init__(self, "\n".join(self.lines))


class RetryExhausted(StorybenchError):
    """Every attempt of a job failed.

    Attributes:
        last_error: the exception of the last attempt.
        attempts: how many attempts were made.
    """

    def __init__(self, last_error: BaseException, attempts: int) -> None:
        self.last_error = last_error
        self.attempts = attempts
        super().__init__(f"gave up after {attempts} attempt(s): {last_error}")


class Cancelled(StorybenchError):
    """The user cancelled a batch or a generation."""
