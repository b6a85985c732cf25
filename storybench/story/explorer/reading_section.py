"""The explorer's reading sections: the segment (text and illustration), its choices, the actions.

* :class:`SegmentSection`: the previous segment folded into the choice taken, the
  current segment's text (streaming in, with a cursor), its illustration as a
  thumbnail (alt text: the illustration's prompt) and the unfinished note;
* :class:`ChoicesSection`: one button per choice (⚡ marks one written ahead);
* :class:`ActionsSection`: Stop, Continue, Back, Regenerate, Retry image.

Each redraws its own slice when the model's traits change; the app calls
:meth:`~SegmentSection.update` etc. under its refresh lock.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from storybench.story.explorer.model import ExplorerModel
from storybench.story.explorer.settings_section import classed
from storybench.story.model import Segment

__all__ = ["ActionsSection", "ChoicesSection", "SegmentSection", "paragraphs_html"]


def paragraphs_html(text: str, cursor: bool = False) -> str:
    """``text``'s paragraphs as ``<p>`` elements (with a blinking-cursor span while streaming)."""
    paras = [p.strip() for p in text.replace("\r", "").split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paras)
    return body + ("<span class='sb-story-cursor' aria-hidden='true'>▍</span>" if cursor else "")


def _button(description: str, icon: str, css: str, **kwargs: Any) -> w.Button:
    return classed(w.Button(description=description, icon=icon, layout=w.Layout(width="auto"), **kwargs), css)


class SegmentSection(w.VBox):
    """The segment the reader is on (see the module doc)."""

    def __init__(self, model: ExplorerModel) -> None:
        self.model = model
        self.previous = classed(w.HTML(""), "sb-story-previous-box")
        self.text = classed(w.HTML(""), "sb-story-text")
        self.image = classed(w.HTML("", layout=w.Layout(max_width="100%")), "sb-story-image")
        self.unfinished_note = classed(w.HTML(""), "sb-story-unfinished-note")
        text_col = classed(
            w.VBox([self.text, self.unfinished_note], layout=w.Layout(flex="2 1 22rem")), "sb-story-text-col"
        )
        image_col = classed(w.VBox([self.image], layout=w.Layout(flex="1 1 14rem")), "sb-story-image-col")
        super().__init__([self.previous, classed(w.HBox([text_col, image_col]), "sb-story-segment")])
        self.add_class("sb-story-reading")
        model.observe(self._show_streaming, "streaming_text")

    def _show_streaming(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.text.value = paragraphs_html(change["new"], cursor=True)

    def update(self) -> None:
        """Show the current segment's text, the previous one and the unfinished note."""
        m = self.model
        seg = m.current
        if not m.generating or not m.streaming_text:
            self.text.value = paragraphs_html(seg.text) if seg is not None else ""
        self._show_previous(seg)
        self.unfinished_note.value = (
            "<span>Stopped before the end: Continue writes the rest, Regenerate writes it anew.</span>"
            if seg is not None and seg.unfinished
            else ""
        )

    def _show_previous(self, seg: Segment | None) -> None:
        story = self.model.story
        if seg is None or story is None or seg.parent_id is None:
            self.previous.value = ""
            return
        parent = story.segment(seg.parent_id)
        paras = [p.strip() for p in parent.text.split("\n\n") if p.strip()]
        last = paras[-1] if paras else ""
        if len(last) > 240:
            last = "…" + last[-240:]
        self.previous.value = (
            f"<div class='sb-story-previous'>{html.escape(last)}<br>"
            f"<span class='sb-story-taken'>➜ {html.escape(seg.choice_text)}</span></div>"
        )

    def show_image(self) -> None:
        """Show the current segment's illustration (or its spinner, or why it failed)."""
        seg = self.model.current
        if seg is None:
            self.image.value = ""
        elif seg.image_status == "done":
            self.image.value = self._image_html(seg)
        elif seg.image_status == "failed":
            self.image.value = (
                "<div class='sb-story-placeholder sb-story-image-failed' role='status'>Illustration failed: "
                f"{html.escape(seg.image_error)}</div>"
            )
        elif seg.unfinished:
            self.image.value = ""
        else:
            word = "rendering" if seg.image_status == "rendering" else "waiting"
            self.image.value = (
                "<div class='sb-story-placeholder sb-story-image-pending' role='status'>"
                f"<div class='sb-story-spinner' aria-hidden='true'></div>Illustration {word}…</div>"
            )

    def _image_html(self, seg: Segment) -> str:
        path = self.model.image_file(seg.id)
        try:
            data = base64.b64encode(path.read_bytes()).decode("ascii") if path else ""
        except OSError as exc:
            return f"<div class='sb-story-placeholder'>image unreadable: {html.escape(str(exc))}</div>"
        alt = html.escape(seg.illustration_prompt or f"Illustration of segment {seg.id}", quote=True)
        return (
            f"<img src='data:image/png;base64,{data}' class='sb-story-thumb' tabindex='0' alt='{alt}' "
            "title='Click for full size'>"
        )


class ChoicesSection(w.VBox):
    """The current segment's choices, one button each.

    Args:
        model: the explorer model.
        on_choose: called with a choice's index when its button is pressed.
    """

    def __init__(self, model: ExplorerModel, on_choose: Callable[[int], Any]) -> None:
        super().__init__([])
        self.add_class("sb-story-choices")
        self.model = model
        self._on_choose = on_choose
        self.buttons: list[w.Button] = []
        self._shown: tuple[str | None, tuple[str, ...]] = (None, ())

    def update(self) -> None:
        """Rebuild the buttons when the segment or its choices changed; mark prefetched ones."""
        seg = self.model.current
        key = (seg.id if seg is not None else None, tuple(seg.choices) if seg is not None else ())
        if key != self._shown:
            self._shown = key
            self.buttons = []
            for i, choice in enumerate(seg.choices if seg is not None else []):
                b = classed(
                    w.Button(description=f"{i + 1}. {choice}", layout=w.Layout(width="auto", max_width="46rem")),
                    "sb-story-choice",
                    f"sb-story-choice-{i + 1}",
                )
                b.on_click(lambda _, i=i: self._on_choose(i))
                self.buttons.append(b)
            self.children = tuple(self.buttons)
        engine = self.model.engine
        for i, b in enumerate(self.buttons):
            ready = seg is not None and engine is not None and engine.prefetched(seg.id, i) is not None
            if ready:
                b.add_class("sb-story-choice-ready")
                b.icon, b.tooltip = "bolt", "Already written: shows at once"
            else:
                b.remove_class("sb-story-choice-ready")
                b.icon, b.tooltip = "", None


class ActionsSection(w.HBox):
    """Stop, Continue, Back, Regenerate, Retry image.

    Args:
        actions: the app's handlers by name (``stop``, ``continue``, ``back``,
            ``regenerate``, ``retry_image``).
    """

    def __init__(self, actions: dict[str, Callable[[], Any]]) -> None:
        self.stop = _button("Stop", "stop", "sb-story-stop", button_style="danger", disabled=True)
        self.continue_ = _button("Continue", "forward", "sb-story-continue")
        self.back = _button("Back", "arrow-left", "sb-story-back")
        self.regenerate = _button("Regenerate", "refresh", "sb-story-regenerate")
        self.retry_image = _button("Retry image", "image", "sb-story-retry-image")
        for name, b in (
            ("stop", self.stop),
            ("continue", self.continue_),
            ("back", self.back),
            ("regenerate", self.regenerate),
            ("retry_image", self.retry_image),
        ):
            b.on_click(lambda _, name=name: actions[name]())
        super().__init__([self.stop, self.continue_, self.back, self.regenerate, self.retry_image])
        self.add_class("sb-story-nav")

    def refresh_controls(self, model: ExplorerModel, busy: bool) -> None:
        """Enable what makes sense now (only Stop while generating)."""
        cur = model.current
        self.stop.disabled = not model.generating
        self.back.disabled = busy or not model.can_go_back()
        self.regenerate.disabled = busy or cur is None
        self.continue_.disabled = busy or cur is None or not cur.unfinished
        self.continue_.layout.display = None if cur is not None and cur.unfinished else "none"
        self.retry_image.disabled = busy or cur is None or cur.image_status != "failed"
