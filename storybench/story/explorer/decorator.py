"""One helper for a button action's busy state and for showing errors in the UI.

:func:`busy_action` wraps a view method: while it runs, the view's action widgets are
disabled and ``model.busy`` is true; an exception becomes a short message in
``model.error`` (which the view shows in its alert area) instead of a traceback; at
the end the view's ``refresh_controls()`` restores the right enabled states. No
ipywidgets import: it only touches ``.disabled`` attributes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from storybench.exceptions import StorybenchError

__all__ = ["busy_action", "error_message"]

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


def busy_action(method: F) -> F:
    """Decorate a view method ``(self, *args)`` whose ``self`` has ``model`` (with ``busy``
    and ``error`` traits), ``action_widgets()`` (widgets to disable) and
    ``refresh_controls()``. Returns ``None`` when the action failed."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        widgets = list(self.action_widgets())
        for w in widgets:
            w.disabled = True
        self.model.busy = True
        self.model.error = ""
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            log.debug("story explorer action %s failed", method.__name__, exc_info=True)
            self.model.error = error_message(exc)
            return None
        finally:
            self.model.busy = False
            self.refresh_controls()

    return wrapper  # type: ignore[return-value]
