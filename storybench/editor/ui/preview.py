"""The page preview: the selected page composed from storyboard panels, redrawn after edits
(debounced), with a full-size view on demand. The image's text alternative (its ``title``,
which assistive technology reads as its name) is the page's lettering."""

from __future__ import annotations

import html
import io
import threading
from typing import Any

import ipywidgets as widgets
import traitlets as t

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls

__all__ = ["PageImage", "PreviewPane"]

#: Width of the full-size page view, pixels.
FULL_WIDTH = 1200


class PageImage(widgets.Image):
    """An image whose ``tooltip`` reaches the page as its ``title`` (its text alternative).

    ipywidgets 8 writes a widget's tooltip as ``title`` only when the widget's
    ``description`` is empty, and an ``Image`` has no ``description`` at all (so its
    tooltip never reaches the page); this one syncs an empty one.
    """

    description = t.Unicode("").tag(sync=True)


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


class PreviewPane(EditorSection):
    """The preview (``preview_image``), its message, Redraw, and Enlarge (a full-size view
    in :attr:`full_view`, which the app places below everything, full width).

    Args:
        model: the editor model.
        width: preview page width, pixels.
        debounce: seconds of quiet after an edit before the preview is redrawn; ``None``:
            only :meth:`refresh_preview` redraws it.
    """

    depends_on = ("revision", "selection")

    def __init__(self, model: PlanEditorModel, width: int = 600, debounce: float | None = 0.3) -> None:
        self.width = width
        self.debounce = debounce
        self._timer: threading.Timer | None = None
        self.preview_image = cls(PageImage(format="png", layout=widgets.Layout(max_width=f"{width}px")), "preview")
        self.preview_message = cls(widgets.HTML(), "preview-message")
        self.refresh_preview_button = button("Redraw", "preview-refresh", "refresh")
        self.enlarge_button = button("Full size", "preview-enlarge", "search-plus")
        self.full_image = cls(PageImage(format="png", layout=widgets.Layout(width="100%")), "preview-full")
        self.close_full_button = button("Close full size", "preview-close", "times")
        self.full_view = cls(widgets.VBox([self.close_full_button, self.full_image]), "preview-full-view")
        self.full_view.layout.display = "none"
        super().__init__(
            model,
            [
                widgets.HBox([self.refresh_preview_button, self.enlarge_button]),
                self.preview_message,
                self.preview_image,
            ],
            name="preview-pane",
            layout=widgets.Layout(flex="2 1 16rem", min_width="0"),
        )
        self.refresh_preview_button.on_click(self.clicked(self.refresh_preview))
        self.enlarge_button.on_click(self.clicked(self.show_full))
        self.close_full_button.on_click(self.clicked(self.hide_full))
        if model.plan is not None:
            self.update()

    def update(self) -> None:
        """Schedule a redraw after ``debounce`` seconds of quiet (restarts the timer)."""
        if self.debounce is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self.debounce, self._timed)
        self._timer.daemon = True
        self._timer.start()

    def _timed(self) -> None:
        try:
            self.refresh_preview()
        except Exception as exc:
            self.preview_message.value = html.escape(f"preview failed: {exc}")

    def refresh_preview(self) -> None:
        """Redraw the preview now (and the full-size view when it is open)."""
        image, message = self.model.page_preview(self.width)
        if image is None:
            self.preview_message.value = html.escape(message)
            return
        with self.preview_image.hold_sync():  # one message: the browser redraws the image once
            self.preview_image.value = _png(image)
            self.preview_image.tooltip = self.model.page_lettering()
        self.preview_message.value = ""
        if self.full_view.layout.display != "none":
            self.show_full()

    def show_full(self) -> None:
        """Show the page at :data:`FULL_WIDTH` pixels, full width, and move the focus to it."""
        image, message = self.model.page_preview(FULL_WIDTH)
        if image is None:
            self.preview_message.value = html.escape(message)
            return
        with self.full_image.hold_sync():
            self.full_image.value = _png(image)
            self.full_image.tooltip = self.model.page_lettering()
        self.full_view.layout.display = "flex"
        self.close_full_button.focus()

    def hide_full(self) -> None:
        """Close the full-size view."""
        self.full_view.layout.display = "none"
        self.enlarge_button.focus()

    def close(self) -> None:
        """Stop the redraw timer and close the widgets."""
        if self._timer is not None:
            self._timer.cancel()
        self.full_view.close()
        super().close()
