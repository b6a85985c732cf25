"""ARIA attributes that ipywidgets cannot set, kept in sync with the widgets' CSS classes.

ipywidgets exposes no way to set an attribute on a widget's element, and its
``Accordion`` headers are not focusable buttons. :class:`AriaBridge` is a tiny
invisible widget (an `anywidget <https://anywidget.dev>`_ module, a few lines of
JavaScript) that a view places once among its children. In the browser it watches
the page's class changes and applies :class:`AriaRule` s: for every element matching
``scope``, the attribute ``attr`` is ``on`` when the element also matches ``when``,
else ``off`` (``None``: the attribute is removed). Python only toggles CSS classes
(``sb-collapse-open``, ``sb-story-node-current``); the state is then exposed to
assistive technology as WAI-ARIA 1.2 defines it (``aria-expanded`` on a disclosure
button, ``aria-current`` on the current item of a set).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import anywidget
import traitlets as t

__all__ = ["COLLAPSE_RULES", "AriaBridge", "AriaRule"]


@dataclass(frozen=True)
class AriaRule:
    """One attribute kept in sync with CSS classes (see the module doc).

    Attributes:
        scope: CSS selector of the elements concerned.
        when: CSS selector an element must also match for ``on`` (``"*"``: always).
        attr: the attribute, e.g. ``"aria-expanded"``.
        on: its value when ``when`` matches.
        off: its value otherwise (``None``: removed).
    """

    scope: str
    when: str
    attr: str
    on: str
    off: str | None = None


#: The rules of :class:`~storybench.ui_kit.collapsible.Collapsible` headers.
COLLAPSE_RULES = (AriaRule(".sb-collapse-header", ".sb-collapse-open", "aria-expanded", "true", "false"),)

_ESM = """
function render({ model, el }) {
  el.classList.add("sb-aria-bridge");
  el.style.display = "none";
  let queued = false;
  const apply = () => {
    queued = false;
    for (const r of model.get("rules")) {
      for (const node of document.querySelectorAll(r.scope)) {
        const value = node.matches(r.when) ? r.on : r.off;
        if (value === null || value === undefined) {
          if (node.hasAttribute(r.attr)) node.removeAttribute(r.attr);
        } else if (node.getAttribute(r.attr) !== value) {
          node.setAttribute(r.attr, value);
        }
      }
    }
  };
  const schedule = () => { if (!queued) { queued = true; requestAnimationFrame(apply); } };
  const observer = new MutationObserver(schedule);
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
  model.on("change:rules", schedule);
  schedule();
  return () => observer.disconnect();
}
export default { render };
"""


class AriaBridge(anywidget.AnyWidget):
    """Applies :class:`AriaRule` s in the browser (place it once among a view's children).

    Args:
        rules: the rules to apply.
    """

    _esm = _ESM
    rules = t.List(t.Dict()).tag(sync=True)

    def __init__(self, rules: tuple[AriaRule, ...] | list[AriaRule] = (), **kwargs: Any) -> None:
        super().__init__(rules=[asdict(r) for r in rules], **kwargs)
        self.add_class("sb-aria-bridge")
