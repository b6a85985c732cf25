"""One helper for every widget action: busy state while it runs, errors shown in the UI.

The contract (the same for the story explorer and the plan editor): a view decorates
its action methods with :func:`busy_action`. The view has

* ``model``: a traitlets model with ``busy`` (bool) and ``error`` (str) traits;
* ``action_widgets()``: the widgets to disable while an action runs (may be empty);
* ``refresh_controls()``: called at the end; it sets the enabled state of every widget
  ``action_widgets()`` lists (they stay disabled otherwise).

While the action runs its widgets are disabled and ``model.busy`` is true; any
exception becomes a one-line message in ``model.error`` (the view shows it in its
alert area, in the error colour) and the action returns ``None``. A view that is
writing model values into its widgets sets ``_syncing`` and the decorated handlers
do nothing meanwhile (widget observers fire on programmatic changes too).

An action that runs off the kernel's main thread returns the
:class:`~concurrent.futures.Future` of :func:`in_background`: the view stays busy
until it completes, and its exception (if any) goes to ``model.error`` the same way.
Buttons that must stay live meanwhile (Stop) are simply left out of
``action_widgets()``.

Nested actions (an action calling another) only clear and restore once. No
ipywidgets import: it only touches ``.disabled`` attributes.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from storybench.exceptions import StorybenchError

__all__ = ["busy_action", "error_message", "in_background", "running_in_kernel"]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def error_message(exc: BaseException) -> str:
    """A one-line, user-facing message for ``exc`` (its class named when it is not ours)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (StorybenchError, KeyError, ValueError, IndexError)):
        if isinstance(exc, KeyError) and len(exc.args) == 1:
            text = str(exc.args[0])
        return text
    return f"{type(exc).__name__}: {text}"


def running_in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (widgets then run long actions in threads)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None) if ipython is not None else None
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def in_background(fn: Callable[..., Any], *args: Any, name: str = "storybench-action") -> Future[Any]:
    """Run ``fn(*args)`` in a new daemon thread.

    Returns:
        Its future (result or exception). ipywidgets may be updated from that thread:
        JupyterLab's widget manager applies the state messages in order.
    """
    fut: Future[Any] = Future()

    def target() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:
            fut.set_exception(exc)

    threading.Thread(target=target, daemon=True, name=name).start()
    return fut


def busy_action(method: F) -> F:
    """Decorate a view method used as an action (see the module doc for the contract).

    Returns:
        The wrapped method; it returns the method's result, or ``None`` when the action
        failed (the message is in ``view.model.error``) or the view was syncing.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_syncing", False):
            return None  # the view is writing model values into its widgets
        outer = not getattr(self, "_in_action", False)
        widgets = list(self.action_widgets()) if outer else []
        if outer:
            for w in widgets:
                w.disabled = True
            self._in_action = True
            self.model.busy = True
            self.model.error = ""
        background = False
        try:
            result = method(self, *args, **kwargs)
            if isinstance(result, Future) and outer:
                background = True
                result.add_done_callback(lambda fut: _finish(self, fut, method.__name__))
            return result
        except Exception as exc:
            log.debug("widget action %s failed", method.__name__, exc_info=True)
            self.model.error = error_message(exc)
            return None
        finally:
            if outer and not background:
                _restore(self)

    return wrapper  # type: ignore[return-value]


def _restore(view: Any) -> None:
    view._in_action = False
    view.model.busy = False
    view.refresh_controls()


def _finish(view: Any, fut: Future[Any], name: str) -> None:
    exc = None if fut.cancelled() else fut.exception()
    if exc is not None and not isinstance(exc, KeyboardInterrupt):
        log.debug("widget action %s failed", name, exc_info=exc)
        view.model.error = error_message(exc)
    try:
        _restore(view)
    except Exception:  # the view was closed meanwhile
        log.debug("could not restore the view after %s", name, exc_info=True)
