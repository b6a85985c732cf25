"""What every section of the plan editor shares: stable CSS classes, control builders with
accessible names, the editor's style sheet, and :class:`EditorSection`.

An :class:`EditorSection` is a box that redraws its own slice of the model when one of the
model traits it names (``depends_on``) changes, and only then; its widget handlers are
detached while it writes model values into its widgets (:meth:`EditorSection.writing`),
so a redraw never echoes back into the model. Its actions run through
:func:`~storybench.ui_kit.busy.busy_action` (errors go to ``model.error``); a refused edit
redraws the section, so the field shows the model's value again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from storybench.ui_kit.a11y import focus_css
from storybench.ui_kit.busy import busy_action
from storybench.ui_kit.question_view import QUESTION_CSS

__all__ = ["CSS", "CSS_CLASSES", "EditorSection", "button", "cls", "set_options", "text"]

#: Every ``sb-editor-...`` class given so far, by short name (``"save"`` → ``"sb-editor-save"``).
CSS_CLASSES: dict[str, str] = {}

# Rows wrap instead of scrolling; labels are never cut (JupyterLab 4 at 1280×800 with the
# file browser open leaves about 800 px for the output area).
CSS = (
    """<style>
.sb-editor-root .widget-hbox{flex-wrap:wrap;overflow:visible;gap:2px 4px}
.sb-editor-root .widget-vbox{overflow:visible}
.sb-editor-root .widget-button{width:auto;min-width:fit-content;overflow:visible;text-overflow:clip}
.sb-editor-root .widget-dropdown,.sb-editor-root .widget-text,.sb-editor-root .widget-inline-hbox{
  width:auto;min-width:12rem;max-width:100%}
.sb-editor-root .widget-dropdown > select{min-width:6rem}
.sb-editor-root .widget-textarea{width:100%;max-width:100%}
.sb-editor-root .sb-editor-line-text{flex:1 1 12rem;min-width:8rem}
.sb-editor-root .sb-editor-line .widget-label{position:absolute;width:1px;height:1px;overflow:hidden;
  clip:rect(0 0 0 0);white-space:nowrap}
.sb-editor-root .sb-editor-line .widget-dropdown,.sb-editor-root .sb-editor-line .widget-text{min-width:8rem}
.sb-editor-root .sb-editor-issue{height:auto;white-space:normal;text-align:left;max-width:100%}
.sb-editor-root .sb-editor-preview img,.sb-editor-root img.sb-editor-preview{max-width:100%;height:auto;cursor:zoom-in}
.sb-editor-root img.sb-editor-preview-full{max-width:100%;height:auto}
.sb-editor-root .widget-tab > .p-TabBar .p-TabBar-tab,.sb-editor-root .lm-TabBar-tab{min-width:fit-content}
.sb-editor-root .sb-editor-pending-message{white-space:pre-line}
.sb-editor-root .widget-label{color:#1f1f1f}
"""
    + QUESTION_CSS
    + focus_css("sb-editor-root")
    + "</style>"
)


def cls(widget: Any, name: str) -> Any:
    """Give ``widget`` the class ``sb-editor-<name>`` (recorded in :data:`CSS_CLASSES`); returns it."""
    css = f"sb-editor-{name}"
    CSS_CLASSES[name] = css
    widget.add_class(css)
    return widget


def button(description: str, name: str, icon: str = "", label: str = "") -> widgets.Button:
    """A button; ``label`` (its tooltip, the ``title`` attribute) is its accessible name when
    it shows only an icon. No tooltip when it repeats the description."""
    return cls(
        widgets.Button(description=description, icon=icon, tooltip=label or None, layout=widgets.Layout(width="auto")),
        name,
    )


def set_options(widget: Any, options: Any, value: Any) -> None:
    """Give a selection widget ``options`` (only when they differ) and select ``value``."""
    if tuple(widget.options) != tuple(options):
        widget.options = options
    widget.value = value


def text(description: str, name: str, area: bool = False) -> widgets.Text:
    """A text field (``area``: a text area) committing on Enter or blur; ``description`` is its label."""
    kind = widgets.Textarea if area else widgets.Text
    return cls(kind(description=description, continuous_update=False, layout=widgets.Layout(width="98%")), name)


class EditorSection(widgets.VBox):
    """A section of the plan editor (see the module doc).

    Subclasses list the model traits they draw from in ``depends_on``, build their widgets,
    connect handlers with :meth:`on_value`, and draw in :meth:`update` inside
    ``with self.writing():``. (Not ``traits``: that is a method of every traitlets object.)

    Args:
        model: the editor model.
        children: the section's widgets.
        name: CSS class suffix of the box (``sb-editor-<name>``).
        **kwargs: passed to :class:`ipywidgets.VBox`.
    """

    depends_on: tuple[str, ...] = ()

    def __init__(self, model: Any, children: Any = (), *, name: str = "", **kwargs: Any) -> None:
        self._handlers: list[tuple[widgets.Widget, Callable[[dict[str, Any]], None], str]] = []
        super().__init__(list(children), **kwargs)
        self.model = model
        if name:
            cls(self, name)
        if self.depends_on:
            model.observe(self._model_changed, names=list(self.depends_on))

    def _model_changed(self, change: dict[str, Any]) -> None:
        self.update()

    def update(self) -> None:
        """Redraw the section from the model (default: nothing)."""

    def close(self) -> None:
        """Stop following the model and close the widgets."""
        if self.depends_on:
            self.model.unobserve(self._model_changed, names=list(self.depends_on))
        super().close()

    def on_value(self, widget: widgets.Widget, handler: Callable[[dict[str, Any]], None], names: str = "value") -> None:
        """Call ``handler(change)`` when the user changes ``widget`` (not while the section writes)."""
        widget.observe(handler, names=names)
        self._handlers.append((widget, handler, names))

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Detach this section's handlers while model values are written into its widgets."""
        for widget, handler, names in self._handlers:
            widget.unobserve(handler, names=names)
        try:
            yield
        finally:
            for widget, handler, names in self._handlers:
                widget.observe(handler, names=names)

    def commit(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` as a busy action; when it fails (``model.error`` set), redraw the
        section so every field shows the model's value again (a refused edit restores the field)."""
        result = self._act(action)
        if self.model.error:
            self.update()
        return result

    def clicked(self, action: Callable[[], Any]) -> Callable[[widgets.Button], Any]:
        """An ``on_click`` handler running ``action()`` through :meth:`commit`."""
        return lambda _button: self.commit(action)

    @busy_action
    def _act(self, action: Callable[[], Any]) -> Any:
        return action()

    def action_widgets(self) -> list[widgets.DOMWidget]:
        """Buttons disabled while one of this section's actions runs (default: none)."""
        return []

    def refresh_controls(self) -> None:
        """Set the enabled state of :meth:`action_widgets` (default: nothing)."""
