"""The ui_kit binding idiom: bind() keeps a widget and a trait equal; a Section redraws its slice."""

from __future__ import annotations

import ipywidgets as w
import traitlets as t

from storybench.ui_kit.binding import Section, bind
from storybench.ui_kit.collapsible import Collapsible


class Model(t.HasTraits):
    name = t.Unicode("a")
    kind = t.Unicode("x")
    count = t.Int(0)


def test_bind_both_ways_and_unknown_options_are_added() -> None:
    m = Model()
    text, drop = w.Text(), w.Dropdown(options=[("X", "x"), ("Y", "y")])
    bind(m, "name", text)
    unbind = bind(m, "kind", drop)
    assert text.value == "a" and drop.value == "x"
    text.value = "b"
    assert m.name == "b"
    m.kind = "z"  # not among the options: added, then selected
    assert drop.value == "z" and ("z", "z") in drop.options
    drop.value = "y"
    assert m.kind == "y"
    unbind()
    drop.value = "x"
    assert m.kind == "y"


def test_a_section_redraws_when_the_traits_it_follows_change() -> None:
    class Counter(Section):
        follows = ("count",)

        def __init__(self, model: Model) -> None:
            self.label = w.HTML()
            super().__init__(model, [self.label], css=["sb-test-counter"])

        def update(self) -> None:
            self.label.value = str(self.model.count)

    m = Model()
    section = Counter(m)
    m.count = 3
    assert section.label.value == "3" and "sb-test-counter" in section._dom_classes
    m.name = "other"  # not followed: no redraw needed, none made
    assert section.label.value == "3"


def test_a_collapsible_is_a_button_over_its_body() -> None:
    body = w.HTML("inside")
    c = Collapsible("Settings", body)
    assert c.expanded and c.header.description == "▾ Settings" and "sb-collapse-open" in c.header._dom_classes
    c.header.click()
    assert not c.expanded and body.layout.display == "none" and "sb-collapse-closed" in c.header._dom_classes
    assert "sb-collapse-open" not in c.header._dom_classes
