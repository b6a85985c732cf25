"""The outage and resubmit loop around single attempts (httpx's ``_send_handling_redirects``).

:func:`render_with_recovery` takes a slot on a server of the pool, runs one attempt
(:class:`~.attempt.Attempts`) and returns its image. Two things are not failures and
spend none of the engine's attempts:

- an unreachable server (:func:`~.errors.is_outage`): the server is marked down (the
  pool probes it), the prompt is *parked* with it, and the loop takes a slot again —
  on the same server once it answers (then the parked prompt is waited for if the
  server still has it, else submitted again) or on another server (then it is
  submitted there);
- a prompt a restarted server forgot (:class:`~.prompt.PromptLost`): submitted again.

Only after the pool's outage budget without any server does the pool raise
:class:`~storybench.exceptions.OutageError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from storybench.exceptions import TransientBackendError
from storybench.render.comfyui.attempt import Attempts, PanelRequest
from storybench.render.comfyui.client import PromptWatch
from storybench.render.comfyui.errors import is_outage
from storybench.render.comfyui.pool import ComfyServer, ServerPool
from storybench.render.comfyui.prompt import PromptLost

__all__ = ["Parked", "render_with_recovery"]

log = logging.getLogger("storybench.comfyui")


@dataclass(frozen=True)
class Parked:
    """A prompt left on a server that stopped answering.

    Attributes:
        server: the server that went down.
        watch: the prompt's watch (still registered with the server's client).
    """

    server: ComfyServer
    watch: PromptWatch


def render_with_recovery(
    pool: ServerPool, attempts: Attempts, request: PanelRequest
) -> tuple[bytes, dict[str, Any], ComfyServer]:
    """Render ``request`` on some server of ``pool``, through outages and restarts.

    The finished prompt's ``/history`` entry is deleted when ``delete_history`` is on.

    Returns:
        ``(image bytes, metrics, server)``; the metrics of :meth:`Attempts.finish` plus
        ``vram_free_before``/``vram_free_after``, ``free_calls``, ``submissions``,
        ``outages`` and ``reference_image`` (when one was uploaded).

    Raises:
        Cancelled: the backend was cancelled.
        OutageError: no server answered within the pool's outage budget.
        WorkflowError, OutOfMemoryError, PermanentBackendError, TransientBackendError:
            a real failure of the prompt (see the backend's ``render``).
    """
    parked: Parked | None = None
    while True:
        attempts.check_cancel()
        server = pool.acquire(attempts.cancel, prefer=parked.server if parked else None)
        outcome = _one_try(pool, attempts, request, server, _reclaim(parked, server))
        if isinstance(outcome, tuple):
            return outcome
        parked = outcome


_Rendered = tuple[bytes, dict[str, Any], ComfyServer]


def _one_try(
    pool: ServerPool, attempts: Attempts, request: PanelRequest, server: ComfyServer, watch: PromptWatch | None
) -> _Rendered | Parked | None:
    """One go on ``server`` (httpx's ``_send_single_request``): wait for the reclaimed prompt
    ``watch`` if the server still has it, else submit ``request``. Returns the result; the
    prompt parked by an outage; or ``None`` to submit again (the server forgot the prompt,
    or an outage struck before one was submitted). Raises as :func:`render_with_recovery`."""
    parked: Parked | None = None
    finished, request.memory = False, {}
    try:
        if watch is not None and attempts.still_there(server, watch):
            recovering = True  # it survived the outage: keep waiting for it
        else:
            watch, recovering = None, False
            watch = attempts.submit(server, request)
        data, metrics = attempts.finish(server, request, watch, recovering=recovering)
        prompt_id, finished = watch.prompt_id, True
    except PromptLost:
        _log_lost(server, watch)
        return None
    except TransientBackendError as exc:
        if not is_outage(exc):
            raise
        parked = _park(pool, request, server, watch, exc)
        return parked
    finally:
        _let_go(pool, attempts, server, watch, parked, finished)
    if attempts.options.delete_history:
        attempts.delete_history(server, prompt_id)
    return data, _with_request_metrics(metrics, server, request), server


def _log_lost(server: ComfyServer, watch: PromptWatch | None) -> None:
    """Say that ``server`` forgot the prompt and it is submitted again."""
    log.warning(
        "ComfyUI at %s no longer has prompt %s (restarted?): submitting it again",
        server.url,
        watch.prompt_id if watch is not None else "?",
    )


def _park(
    pool: ServerPool, request: PanelRequest, server: ComfyServer, watch: PromptWatch | None, exc: Exception
) -> Parked | None:
    """Count the outage (not a failed attempt), mark ``server`` down and park ``watch`` with it."""
    request.outages += 1
    pool.mark_down(server, exc)
    return Parked(server, watch) if watch is not None else None


def _let_go(
    pool: ServerPool,
    attempts: Attempts,
    server: ComfyServer,
    watch: PromptWatch | None,
    parked: Parked | None,
    finished: bool,
) -> None:
    """Settle ``watch`` on ``server`` (kept there when parked) and give the server back to the pool."""
    if watch is not None:
        attempts.settle(server, watch, keep=parked is not None and parked.watch is watch)
    pool.release(server, rendered=finished)


def _reclaim(parked: Parked | None, server: ComfyServer) -> PromptWatch | None:
    """The parked prompt's watch when ``server`` is the one it was parked on; a prompt
    parked on another server is let go there (it is submitted again here)."""
    if parked is None:
        return None
    if parked.server is server:
        return parked.watch
    parked.server.client.unwatch(parked.watch)
    return None


def _with_request_metrics(metrics: dict[str, Any], server: ComfyServer, request: PanelRequest) -> dict[str, Any]:
    """``metrics`` with the VRAM readings, submissions, outages and reference image added."""
    memory = request.memory
    if request.reference:
        metrics["reference_image"] = request.reference
    metrics.update(
        {
            "vram_free_before": memory.get("vram_free_before", server.memory.last_reading),
            "vram_free_after": memory.get("vram_free_after", server.memory.last_reading),
            "free_calls": memory.get("free_calls", 0),
            "submissions": request.submissions,
            "outages": request.outages,
        }
    )
    return metrics
