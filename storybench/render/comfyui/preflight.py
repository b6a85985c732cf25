"""Preflight of a ComfyUI server pool: can the servers run this batch, before any prompt?

For each server: ``GET /object_info``, then every distinct template/settings combination
of the batch is filled and checked (node classes, required inputs, model files: see
:func:`~storybench.render.comfyui.workflow.check_prompt`). A server lacking something is
left out of the batch with one warning naming it and what it lacks, when another server
can run the batch; when none can, one :class:`~storybench.exceptions.WorkflowError` lists
every problem of every server (so the run reports it once and sends no prompt). When no
server of a backend that never reached one answers, preflight fails at once (a wrong URL,
ComfyUI not started: not an outage). A server
that does not answer is checked when it does (:class:`~.pool.ServerPool` probes it);
while no server answers, preflight waits up to the pool's outage budget. Then VRAM is
freed on each usable server only if it is short, and their websockets are opened.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from storybench.exceptions import TransientBackendError, WorkflowError
from storybench.render.comfyui.client import ComfyUIClient
from storybench.render.comfyui.errors import BACKEND, is_outage
from storybench.render.comfyui.pool import ComfyServer, ServerPool
from storybench.render.comfyui.workflow import WorkflowTemplate, check_prompt
from storybench.render.spec import RenderSpec

__all__ = ["Check", "distinct_checks", "preflight_pool", "server_problems"]

#: One template with one spec that shows its settings.
Check = tuple[WorkflowTemplate, RenderSpec]


def distinct_checks(
    specs: Sequence[RenderSpec],
    template_for: Callable[[RenderSpec], WorkflowTemplate],
    sheet_template: WorkflowTemplate | None = None,
) -> list[Check]:
    """One spec per distinct template/settings combination of ``specs``; with a
    ``sheet_template`` (reference-capable workflows) also a character sheet cell."""
    checks: dict[tuple[str, str], Check] = {}
    for spec in specs:
        template = template_for(spec)
        checks.setdefault((template.name, json.dumps(template.settings(spec.params), sort_keys=True)), (template, spec))
    if sheet_template is not None and specs:
        first = specs[0]
        sheet = first.model_copy(update={"params": {**first.params, "kind": "character_sheet"}})
        checks.setdefault(
            (sheet_template.name, json.dumps(sheet_template.settings(sheet.params), sort_keys=True)),
            (sheet_template, sheet),
        )
    return list(checks.values())


def server_problems(client: ComfyUIClient, checks: Sequence[Check]) -> list[str]:
    """What keeps ``client``'s server from running ``checks``: one line per missing node
    class, input or model file (``workflow NAME: ...``); ``[]`` when it can run them.

    Raises:
        BackendUnavailable: the server cannot be reached.
    """
    object_info = client.object_info()
    problems: list[str] = []
    for template, spec in checks:
        filled = template.fill(spec)
        for line in check_prompt(
            filled, object_info, template=template, skip=template.slot_inputs(template.reference_slots)
        ):
            if f"workflow {template.name}: {line}" not in problems:
                problems.append(f"workflow {template.name}: {line}")
    return problems


def preflight_pool(pool: ServerPool, checks: Sequence[Check], cancel: threading.Event) -> dict[str, Any]:
    """Check every server of ``pool`` against ``checks`` (see the module docstring).

    Returns:
        ``preflight_seconds``, the first usable server's ``comfyui_version``, ``devices``,
        ``websocket`` and VRAM readings (``vram_free_before``, ``vram_free_after``,
        ``free_calls``, ``ollama_unloaded``), ``workflows``, ``servers`` (URL → its own
        readings) and ``left_out`` (why servers were left out).

    Raises:
        OutageError: no server answered within the pool's outage budget.
        WorkflowError: no server can run the batch.
        Cancelled: ``cancel`` was set while waiting.
    """
    t0 = time.perf_counter()
    found, unreachable = _survey(pool, checks)
    _mark_unreachable(pool, found, unreachable)
    _leave_out_or_refuse(pool, {url: lines for url, lines in found.items() if lines})
    pool.wait_until_up(cancel)
    _require_usable(pool)
    results = _all_readings(pool)
    first = next(iter(results.values()), {})
    return {
        "preflight_seconds": round(time.perf_counter() - t0, 4),
        **first,
        "workflows": sorted({t.name for t, _ in checks}),
        "servers": results,
        "left_out": [s.left_out for s in pool.servers if s.left_out],
    }


def _survey(
    pool: ServerPool, checks: Sequence[Check]
) -> tuple[dict[str, list[str]], list[tuple[ComfyServer, TransientBackendError]]]:
    """Every server's problems with ``checks`` (URL → lines; ``[]``: none), and the servers
    that could not be reached with their errors."""
    found: dict[str, list[str]] = {}
    unreachable: list[tuple[ComfyServer, TransientBackendError]] = []
    for server in pool.servers:
        server.left_out, server.needs_check = None, False
        try:
            found[server.url] = server_problems(server.client, checks)
        except TransientBackendError as exc:
            if not is_outage(exc):
                raise
            unreachable.append((server, exc))
    return found, unreachable


def _mark_unreachable(
    pool: ServerPool, found: dict[str, list[str]], unreachable: list[tuple[ComfyServer, TransientBackendError]]
) -> None:
    """Mark the ``unreachable`` servers down, to be checked when they answer; when no server of
    this backend has ever answered, raise the first error instead (a wrong URL or ComfyUI not
    started, not an outage)."""
    if unreachable and not found and not pool.answered:
        raise unreachable[0][1]
    pool.answered = pool.answered or bool(found)
    for server, error in unreachable:
        server.needs_check = True
        pool.mark_down(server, error)


def _require_usable(pool: ServerPool) -> None:
    """Raise :class:`WorkflowError` naming why each server was left out when none is usable."""
    if not pool.usable:
        raise WorkflowError(
            BACKEND, "no ComfyUI server can run this batch: " + "; ".join(str(s.left_out) for s in pool.servers)
        )


def _leave_out_or_refuse(pool: ServerPool, bad: dict[str, list[str]]) -> None:
    """Leave out the servers with problems (``bad``: URL → lines), or raise one
    :class:`WorkflowError` naming every problem when no server can run the batch."""
    if bad and len(bad) == len(pool.servers):
        if len(pool.servers) == 1:
            ((url, lines),) = bad.items()
            raise WorkflowError(BACKEND, f"the ComfyUI server at {url} cannot run this batch:\n  " + "\n  ".join(lines))
        raise WorkflowError(
            BACKEND,
            "no ComfyUI server can run this batch:"
            + "".join(f"\n  {url}: " + "\n    ".join(lines) for url, lines in bad.items()),
        )
    for server in pool.servers:
        if bad.get(server.url):
            pool.leave_out(server, bad[server.url])


def _all_readings(pool: ServerPool) -> dict[str, dict[str, Any]]:
    """URL → :func:`_readings` of every usable server that answers."""
    results: dict[str, dict[str, Any]] = {}
    for server in pool.usable:
        reading = _readings(pool, server) if server.up else None
        if reading is not None:
            results[server.url] = reading
    return results


def _readings(pool: ServerPool, server: ComfyServer) -> dict[str, Any] | None:
    """A usable server's version, devices and VRAM (freed if short), its websocket opened;
    ``None`` (and the server marked down) when it stopped answering."""
    try:
        stats = server.client.system_stats()
        memory = server.memory.ensure("preflight")
    except TransientBackendError as exc:
        if not is_outage(exc):
            raise
        pool.mark_down(server, exc)
        return None
    return {
        "comfyui_version": (stats.get("system") or {}).get("comfyui_version"),
        "devices": [
            {k: d.get(k) for k in ("name", "type", "vram_total", "vram_free")} for d in stats.get("devices", [])
        ],
        "websocket": server.client.start(),
        **memory,
    }
