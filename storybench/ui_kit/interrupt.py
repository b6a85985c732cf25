"""The kernel's Interrupt stops generations that run off the main thread.

JupyterLab's Interrupt sends SIGINT to the kernel. ipykernel ignores SIGINT while it
is idle and only turns it into ``KeyboardInterrupt`` while it runs a cell or a
message handler (``Kernel.pre_handler_hook`` installs ``signal.default_int_handler``
and ``post_handler_hook`` puts back the handler saved before). A generation started
from a button runs in its own thread after the click handler returned, so the kernel
is idle and the signal would be lost.

:func:`stop_on_interrupt` (called from the main thread, e.g. in a click handler)
installs a SIGINT handler that calls the registered stop callbacks of the running
jobs, and falls back to the previous handler when no job runs. Inside an ipykernel
message handler it also replaces the kernel's saved handler, so it is the one put
back after the handler returns. While a cell runs, ipykernel's own handler is in
place and the cell gets its ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["active_stops", "interrupt_handler", "register_stop", "stop_on_interrupt"]

_lock = threading.Lock()
_stops: dict[int, Callable[[], None]] = {}
_next_key = 0
_previous: Any = signal.SIG_IGN


def active_stops() -> int:
    """How many stop callbacks are registered now."""
    with _lock:
        return len(_stops)


def interrupt_handler(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler: stop every registered job; with none, behave as the previous handler."""
    with _lock:
        stops = list(_stops.values())
    if stops:
        for stop in stops:
            with contextlib.suppress(Exception):
                stop()
        return
    prev = _previous
    if callable(prev) and prev is not interrupt_handler:
        prev(signum, frame)
    elif prev == signal.SIG_DFL:
        raise KeyboardInterrupt


def _install() -> None:
    """Make :func:`interrupt_handler` the SIGINT handler (main thread only; else a no-op)."""
    global _previous
    if threading.current_thread() is not threading.main_thread():
        return
    kernel = _kernel()
    saved = getattr(kernel, "saved_sigint_handler", None) if kernel is not None else None
    current = signal.getsignal(signal.SIGINT)
    if kernel is not None and saved is not None:
        # inside an ipykernel handler: `current` is its temporary default_int_handler;
        # `saved` is what it puts back afterwards (SIG_IGN while idle)
        if saved is not interrupt_handler:
            _previous = saved
        kernel.saved_sigint_handler = interrupt_handler
        return
    if current is not interrupt_handler:
        _previous = current
        signal.signal(signal.SIGINT, interrupt_handler)


def _kernel() -> Any:
    try:
        from IPython import get_ipython  # only present in a kernel
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None) if shell is not None else None


def register_stop(stop: Callable[[], None]) -> Callable[[], None]:
    """Call ``stop`` on SIGINT until the returned function is called (call this in the main
    thread to install the handler; the unregister function may be called from any thread).

    Returns:
        A function that unregisters ``stop``.
    """
    global _next_key
    _install()
    with _lock:
        key = _next_key
        _next_key += 1
        _stops[key] = stop

    def unregister() -> None:
        with _lock:
            _stops.pop(key, None)

    return unregister


@contextlib.contextmanager
def stop_on_interrupt(stop: Callable[[], None]) -> Iterator[None]:
    """Register ``stop`` (see :func:`register_stop`) while the ``with`` block runs."""
    unregister = register_stop(stop)
    try:
        yield
    finally:
        unregister()
