"""The retry policy of a publish: which failures are tried again, how often, how long to wait.

gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html):

* ``UNAVAILABLE`` and ``DEADLINE_EXCEEDED`` are transient: the same call is made
  again after an exponential backoff (``backoff_seconds``, doubling, at most
  ``max_backoff_seconds``), up to ``attempts`` calls in all;
* ``INVALID_ARGUMENT``, ``PERMISSION_DENIED`` and ``UNAUTHENTICATED`` stop the
  publish at once with :class:`~storybench.exceptions.PublishRejected`, naming the
  step and the object;
* any other code stops with :class:`~storybench.exceptions.PublishError`.

A call that *creates* something (``CreateCharacter``, ``CreateAIPost``) is never
made twice here: when its answer is lost (``UNAVAILABLE`` or ``DEADLINE_EXCEEDED``
after the request may have reached the platform) :func:`call_rpc` raises
:class:`OutcomeUnknown`, and the publisher looks for the object with the platform's
read calls before anything else (see :mod:`storybench.publish.publisher`). Only an
``UNAVAILABLE`` that says no connection was made ("failed to connect") is retried,
since the request never left the client.

The upload of one media object (presigned URL, S3 ``PUT``, ``ConfirmUpload``) has its
own bound, ``upload_attempts``: an S3 rejection, an expired URL or a ``ConfirmUpload``
answering ``success=false`` counts one attempt, and a new URL is asked for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from storybench.exceptions import PublishError, PublishRejected

__all__ = ["FATAL_CODES", "RETRYABLE_CODES", "OutcomeUnknown", "RetryPolicy", "call_rpc"]

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
FATAL_CODES = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}
)
_HINTS = {
    grpc.StatusCode.UNAUTHENTICATED: "the bearer token in STORYBENCH_PUBLISH_TOKEN",
    grpc.StatusCode.PERMISSION_DENIED: "that the token may publish to this world (--world)",
    grpc.StatusCode.INVALID_ARGUMENT: "the values sent for this object (world id, names, sizes)",
    grpc.StatusCode.UNAVAILABLE: "that the platform at STORYBENCH_PUBLISH_TARGET is up and reachable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the platform's load, or raise STORYBENCH_PUBLISH_TIMEOUT_SECONDS",
}


#: gRPC's words for a call that never reached a server (the request was not sent).
_NOT_SENT = ("failed to connect to all addresses", "Connection refused", "DNS resolution failed")


class OutcomeUnknown(PublishError):
    """A create call was sent and its answer lost: the platform may or may not hold the object."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a publish retries.

    Attributes:
        attempts: calls of one RPC in all for transient codes (first call included).
        backoff_seconds: wait before the second call, seconds; doubles each time.
        max_backoff_seconds: longest wait, seconds.
        upload_attempts: tries of one media upload (new URL, PUT, confirm) in all.
        settle_interval_seconds: wait between two look-ups of an object whose create
            call lost its answer, seconds.
        sleep: the sleeping function (tests pass a recorder).
    """

    attempts: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    upload_attempts: int = 4
    settle_interval_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed call number ``attempt`` (1-based)."""
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))


def _code(exc: grpc.RpcError) -> grpc.StatusCode:
    code = getattr(exc, "code", None)
    return code() if callable(code) else grpc.StatusCode.UNKNOWN


def _details(exc: grpc.RpcError) -> str:
    details = getattr(exc, "details", None)
    return (details() if callable(details) else "") or "no details"


def _not_sent(exc: grpc.RpcError) -> bool:
    details = _details(exc)
    return any(words in details for words in _NOT_SENT)


def call_rpc(policy: RetryPolicy, step: str, obj: str, call: Callable[[], T], *, creates: bool = False) -> T:
    """Make one RPC under ``policy``.

    Args:
        policy: the retry policy.
        step: the RPC name for messages, e.g. ``"CreateCharacter"``.
        obj: what it is for, e.g. ``"character char-1 (Ann)"``.
        call: makes the call once.
        creates: the call creates an object: a lost answer is not retried.

    Returns:
        The call's answer.

    Raises:
        PublishRejected: the platform answered ``INVALID_ARGUMENT``, ``PERMISSION_DENIED``
            or ``UNAUTHENTICATED``.
        OutcomeUnknown: ``creates`` and the answer was lost after the request may have
            reached the platform.
        PublishError: another code, or a transient one on every attempt.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except grpc.RpcError as exc:
            code = _code(exc)
            hint = _HINTS.get(code, "")
            if code in FATAL_CODES:
                raise PublishRejected(step, obj, _details(exc), code=code.name, hint=hint) from exc
            if code not in RETRYABLE_CODES:
                raise PublishError(step, obj, _details(exc), code=code.name, hint=hint) from exc
            if creates and not (code == grpc.StatusCode.UNAVAILABLE and _not_sent(exc)):
                raise OutcomeUnknown(step, obj, f"the answer was lost: {_details(exc)}", code=code.name) from exc
            if attempt == policy.attempts:
                raise PublishError(
                    step, obj, f"gave up after {attempt} attempt(s): {_details(exc)}", code=code.name, hint=hint
                ) from exc
            wait = policy.delay(attempt)
            log.info("%s for %s: %s, retrying in %.2f s", step, obj, code.name, wait)
            policy.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
