"""A collapsible section whose header is a real button (focusable, Enter/Space, ``aria-expanded``).

ipywidgets' ``Accordion`` headers are not focusable (``tabIndex`` -1, no role), so a
keyboard-only writer cannot reopen a folded section. :class:`Collapsible` is a button
over a body; pressing it shows or hides the body. Its state is the trait ``expanded``, and
the CSS classes ``sb-collapse-open`` / ``sb-collapse-closed`` on the header, which an
:class:`~storybench.ui_kit.aria.AriaBridge` with
:data:`~storybench.ui_kit.aria.COLLAPSE_RULES` turns into ``aria-expanded``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

__all__ = ["Collapsible"]


class Collapsible(w.VBox):
    """A header button and a body shown while :attr:`expanded` is true.

    Args:
        title: the header's text.
        body: the widget shown when open.
        expanded: whether it starts open.
        **kwargs: passed to :class:`ipywidgets.VBox`.

    Attributes:
        header: the header button (CSS ``sb-collapse-header``).
        body: the body.
    """

    expanded = t.Bool(True)

    def __init__(self, title: str, body: w.Widget, *, expanded: bool = True, **kwargs: Any) -> None:
        self.title = title
        self.header = w.Button(layout=w.Layout(width="auto"))
        self.header.add_class("sb-collapse-header")
        self.body = body
        super().__init__([self.header, body], **kwargs)
        self.add_class("sb-collapse")
        self.header.on_click(lambda _: self.toggle())
        self.observe(lambda _: self._show(), "expanded")
        self.expanded = expanded
        self._show()

    def toggle(self) -> None:
        """Open a closed section, close an open one."""
        self.expanded = not self.expanded

    def _show(self) -> None:
        self.header.description = f"{'▾' if self.expanded else '▸'} {self.title}"
        self.header.tooltip = None
        self.header.remove_class("sb-collapse-open" if not self.expanded else "sb-collapse-closed")
        self.header.add_class("sb-collapse-open" if self.expanded else "sb-collapse-closed")
        self.body.layout.display = None if self.expanded else "none"
