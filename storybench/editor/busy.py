"""One helper for widget handlers: busy state while running, errors shown in the UI.

A view that has ``show_error(exc)`` and ``clear_error()`` decorates its handlers
with :func:`guarded`: the triggering button (if the handler got one) is disabled
while the handler runs, the previous error is cleared, and any exception is shown
in the view instead of vanishing into the kernel log.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["guarded"]

F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Decorate a view method used as a widget callback (see module doc)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_syncing", False):
            return None  # the view is writing model values into widgets
        button = args[0] if args and hasattr(args[0], "disabled") and hasattr(args[0], "on_click") else None
        was_disabled = button.disabled if button is not None else False
        if button is not None:
            button.disabled = True
        self.clear_error()
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self.show_error(exc)
            return None
        finally:
            if button is not None:
                button.disabled = was_disabled

    return wrapper  # type: ignore[return-value]
