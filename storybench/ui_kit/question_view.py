"""The pending-question view shared by the story explorer and the plan editor.

A model that cannot go on without an answer keeps a :class:`~storybench.ui_kit.pending.Pending`
in its ``pending`` attribute (a traitlets trait, or a plain attribute the view is told
about through :meth:`QuestionView.show`). :class:`QuestionView` is the box a view places
next to the control that raised the question: the message (with ``role="alert"`` so a
screen reader announces it when it opens) and one button per answer. When a question
opens, the view asks the browser to focus its first answer; a browser's
``element.focus()`` also scrolls the element into view, so the question is where the
writer looks. The focusing is done in the browser by :class:`AnswerFocus` (a hidden
anywidget in the box): it waits until the first answer's element exists and brings the
focus back into the box if a re-render takes it, until the writer presses a key or a
pointer; it never moves a focus that is already inside the box, so a writer tabbing
through the answers is not pulled back when the kernel is slow. :func:`answer_needed_status` is the one-line
status the view shows meanwhile ("An answer is needed: ...").

CSS classes (``prefix`` is ``sb-story`` or ``sb-editor``; the classes before this
module existed are kept): the box ``sb-question`` and ``{prefix}-pending``, the message
``sb-question-message`` and ``{prefix}-pending-message``, each button
``sb-question-choice``, ``{prefix}-pending-choice`` and ``{prefix}-pending-{choice}``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets as w
import traitlets as t

from storybench.ui_kit.pending import Pending

__all__ = ["QUESTION_CSS", "AnswerFocus", "QuestionView", "answer_needed_status"]


#: Styles of the question box (include once per app, e.g. in the app's ``<style>`` HTML).
QUESTION_CSS = """
.sb-question{background:#fff6e0;border:2px solid #b26b00;padding:6px 10px;border-radius:4px;
  flex-wrap:wrap;align-items:center;gap:4px}
.sb-question .sb-question-message{margin-right:8px}
"""

_FOCUS_ESM = """
function render({ model, el }) {
  el.classList.add("sb-question-focus");
  el.style.display = "none";
  let timer = null;
  let stopWatching = () => {};
  const go = () => {
    clearTimeout(timer);
    stopWatching();
    const deadline = performance.now() + model.get("wait_ms");
    let userActed = false;  // a key or a pointer: from then on the writer leads the focus
    const onUser = () => { userActed = true; };
    document.addEventListener("keydown", onUser, true);
    document.addEventListener("pointerdown", onUser, true);
    stopWatching = () => {
      document.removeEventListener("keydown", onUser, true);
      document.removeEventListener("pointerdown", onUser, true);
    };
    const tick = () => {
      const box = el.isConnected ? el.closest(".sb-question") : null;
      if (box && !userActed && !box.contains(document.activeElement)) {
        const first = box.querySelector(".sb-question-choice");
        if (first && first.offsetParent !== null) first.focus();  // also scrolls it into view
      }
      if (el.isConnected && !userActed && performance.now() < deadline) timer = setTimeout(tick, 100);
      else stopWatching();
    };
    tick();
  };
  model.on("change:request", go);
  if (model.get("request") > 0) go();
  return () => { clearTimeout(timer); stopWatching(); model.off("change:request", go); };
}
export default { render };
"""


class AnswerFocus(anywidget.AnyWidget):
    """Focuses the first answer of the question box it sits in, in the browser (see the module doc).

    Attributes:
        request: raised by one for each question that opens.
        wait_ms: how long the browser keeps the focus in the box until the writer presses a
            key or a pointer (a re-render or the notebook may take it meanwhile), milliseconds.
    """

    _esm = _FOCUS_ESM
    request = t.Int(0).tag(sync=True)
    wait_ms = t.Int(20000).tag(sync=True)


def answer_needed_status(pending: Pending | None) -> str:
    """The one-line status to show while ``pending`` waits (empty when nothing is pending).

    Returns:
        e.g. ``"An answer is needed: Overwrite the other story? (Overwrite / Save as new / Cancel)"``.
    """
    if pending is None:
        return ""
    answers = " / ".join(pending.label(c) for c in pending.choices)
    return f"An answer is needed: {pending.message} ({answers})"


class QuestionView(w.HBox):
    """A model's open question: its message and one button per answer.

    Args:
        model: an object with a ``pending`` attribute; when it is a traitlets
            ``HasTraits`` with a ``pending`` trait the view follows it by itself.
            ``None``: the owner calls :meth:`show`.
        on_answer: called with the chosen answer (default ``model.resolve``).
        prefix: CSS class prefix of the app (``"sb-story"``, ``"sb-editor"``).
        focus: ask the browser to focus the first answer when a question opens.

    Attributes:
        message: the HTML widget holding the question.
        buttons: the answer buttons of the open question, by answer (empty when none).
        pending: the question shown now, or ``None``.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        on_answer: Callable[[str], Any] | None = None,
        prefix: str = "sb",
        focus: bool = True,
        **kwargs: Any,
    ) -> None:
        self.prefix = prefix
        self.focus_on_open = focus
        self.pending: Pending | None = None
        self.buttons: dict[str, w.Button] = {}
        self._pool: list[w.Button] = []
        self._on_answer = on_answer if on_answer is not None else (lambda c: model.resolve(c))
        self.message = w.HTML("")
        for css in ("sb-question-message", f"{prefix}-pending-message"):
            self.message.add_class(css)
        self.focuser = AnswerFocus()
        self.focuser.add_class("sb-question-focus")
        super().__init__([self.message, self.focuser], **kwargs)
        for css in ("sb-question", f"{prefix}-pending"):
            self.add_class(css)
        self.layout.display = "none"
        if model is not None and hasattr(model, "has_trait") and model.has_trait("pending"):
            model.observe(lambda change: self.show(change["new"]), "pending")
            if model.pending is not None:
                self.show(model.pending)

    # ------------------------------------------------------------ showing
    def show(self, pending: Pending | None) -> None:
        """Show ``pending`` (hide the box when ``None``); focus its first answer when it opens."""
        opened = pending is not None and pending is not self.pending
        self.pending = pending
        if pending is None:
            self.buttons = {}
            self.children = (self.message, self.focuser)
            self.message.value = ""
            self.layout.display = "none"
            return
        self.message.value = f"<div role='alert' aria-live='assertive'><b>{html.escape(pending.message)}</b></div>"
        self.buttons = {}
        for i, choice in enumerate(pending.choices):
            b = self._button(i)
            b.description = pending.label(choice)
            b.tooltip = None
            b._dom_classes = ("sb-question-choice", f"{self.prefix}-pending-choice", f"{self.prefix}-pending-{choice}")
            b.disabled = False
            self.buttons[choice] = b
        self.children = (self.message, *self.buttons.values(), self.focuser)
        self.layout.display = "flex"
        if opened and self.focus_on_open:
            self.focus_answer()

    def _button(self, index: int) -> w.Button:
        while len(self._pool) <= index:
            b = w.Button(layout=w.Layout(width="auto"))
            b.on_click(lambda btn: self._answer(btn))
            self._pool.append(b)
        return self._pool[index]

    def _answer(self, button: w.Button) -> None:
        for choice, b in self.buttons.items():
            if b is button:
                self._on_answer(choice)
                return

    def focus_answer(self) -> None:
        """Ask the browser to focus (and so scroll into view) the first answer, unless the
        focus is inside the question box already (:class:`AnswerFocus`)."""
        if self.buttons:
            self.focuser.request += 1

    def action_widgets(self) -> list[w.Button]:
        """The answer buttons (to disable while an action runs)."""
        return list(self.buttons.values())
