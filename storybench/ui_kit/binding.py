"""One binding idiom for both notebook apps: widgets follow model traits, sections own a slice.

* :func:`bind` links a widget's value and a model trait both ways. A dropdown whose
  model value is not among its options gets that value added (a backend registered
  later, a language tag), instead of raising.
* :class:`Section` is a box that draws one slice of a model: it names the traits it
  depends on and redraws itself (:meth:`Section.update`) when one of them changes,
  and only then (ipywidgets' ``AppLayout`` idea: header, sidebar, center and footer
  each own their updates; no view-wide ``_sync``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w

__all__ = ["Section", "bind"]


def bind(model: Any, trait: str, widget: w.Widget, attr: str = "value") -> Callable[[], None]:
    """Keep ``widget.<attr>`` and ``model.<trait>`` equal, both ways.

    The widget takes the model's value first. ``None`` from a widget (a dropdown
    with no selection) is not written to the model.

    Returns:
        A function that removes both observers.
    """

    def to_model(change: dict[str, Any]) -> None:
        new = change["new"]
        if new is not None and getattr(model, trait) != new:
            setattr(model, trait, new)

    def to_widget(change: dict[str, Any]) -> None:
        _set_widget(widget, attr, change["new"])

    _set_widget(widget, attr, getattr(model, trait))
    widget.observe(to_model, attr)
    model.observe(to_widget, trait)

    def unbind() -> None:
        widget.unobserve(to_model, attr)
        model.unobserve(to_widget, trait)

    return unbind


def _set_widget(widget: w.Widget, attr: str, value: Any) -> None:
    if isinstance(widget, w.widgets.widget_selection._Selection) and attr == "value" and value is not None:
        options = list(widget.options)
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        if value not in values:
            tupled = bool(options) and isinstance(options[0], tuple)
            widget.options = [*options, (str(value), value) if tupled else value]
    if getattr(widget, attr) != value:
        setattr(widget, attr, value)


class Section(w.VBox):
    """A box drawing one slice of a model.

    Subclasses build their widgets in ``__init__`` (then call ``super().__init__``),
    set :attr:`follows` (class attribute: the model traits they depend on; not ``traits``, a
    traitlets method) and
    implement :meth:`update`, which redraws the section from the model.

    Args:
        model: a traitlets ``HasTraits`` model.
        children: the section's widgets.
        css: CSS classes added to the box.
        **kwargs: passed to :class:`ipywidgets.VBox`.
    """

    follows: tuple[str, ...] = ()

    def __init__(self, model: Any, children: Iterable[w.Widget] = (), *, css: Iterable[str] = (), **kwargs: Any):
        super().__init__(list(children), **kwargs)
        self.model = model
        for c in css:
            self.add_class(c)
        if self.follows:
            model.observe(lambda _change: self.update(), list(self.follows))

    def update(self) -> None:
        """Redraw the section from the model (default: nothing)."""
