"""The navigator: chapter, page and panel pickers with the layout, and the buttons that add,
remove and move chapters, pages and panels."""

from __future__ import annotations

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls, set_options
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES

__all__ = ["Navigator"]


class Navigator(EditorSection):
    """Where in the plan the editor is; a question about dropping panels opens in :attr:`question_slot`.

    Redraws on ``revision``, ``selection`` and ``pending`` (a cancelled layout change puts
    the layout list back).
    """

    depends_on = ("revision", "selection", "pending")

    def __init__(self, model: PlanEditorModel) -> None:
        m = model
        self.chapter_select = cls(widgets.Dropdown(description="Chapter"), "chapter-select")
        self.chapter_title = cls(widgets.Text(description="Title", continuous_update=False), "chapter-title")
        self.add_chapter_button = button("Add chapter", "chapter-add", "plus")
        self.remove_chapter_button = button("Remove chapter", "chapter-remove", "trash")
        self.page_select = cls(widgets.Dropdown(description="Page"), "page-select")
        self.layout_select = cls(
            widgets.Dropdown(
                description="Layout", options=[(f"{t} ({TEMPLATES[t].panel_count})", t) for t in TEMPLATE_IDS]
            ),
            "layout",
        )
        self.add_page_button = button("Add page", "page-add", "plus")
        self.remove_page_button = button("Remove page", "page-remove", "trash")
        self.page_up_button = button("", "page-up", "arrow-up", "move page earlier")
        self.page_down_button = button("", "page-down", "arrow-down", "move page later")
        self.panel_select = cls(widgets.Dropdown(description="Panel"), "panel-select")
        self.add_panel_button = button("Add panel", "panel-add", "plus")
        self.remove_panel_button = button("Remove panel", "panel-remove", "trash")
        self.panel_up_button = button("", "panel-up", "arrow-left", "move panel earlier")
        self.panel_down_button = button("", "panel-down", "arrow-right", "move panel later")
        self.question_slot = cls(widgets.VBox(), "layout-question")
        super().__init__(
            model,
            [
                widgets.HBox(
                    [self.chapter_select, self.chapter_title, self.add_chapter_button, self.remove_chapter_button]
                ),
                widgets.HBox(
                    [
                        self.page_select,
                        self.layout_select,
                        self.add_page_button,
                        self.remove_page_button,
                        self.page_up_button,
                        self.page_down_button,
                    ]
                ),
                self.question_slot,
                widgets.HBox(
                    [
                        self.panel_select,
                        self.add_panel_button,
                        self.remove_panel_button,
                        self.panel_up_button,
                        self.panel_down_button,
                    ]
                ),
            ],
            name="navigator",
        )
        self.on_value(self.chapter_select, lambda ch: self._select("chapter", ch["new"]))
        self.on_value(self.page_select, lambda ch: self._select("page", ch["new"]))
        self.on_value(self.panel_select, lambda ch: self._select("panel", ch["new"]))
        self.on_value(self.chapter_title, lambda ch: self.commit(lambda: m.rename_chapter(ch["new"])))
        self.on_value(
            self.layout_select, lambda ch: self.commit(lambda: ch["new"] and m.set_layout(ch["new"], on_surplus="ask"))
        )
        for b, action in (
            (self.add_chapter_button, lambda: m.add_chapter()),
            (self.remove_chapter_button, m.remove_chapter),
            (self.add_page_button, lambda: m.add_page(self.layout_select.value or "single")),
            (self.remove_page_button, m.remove_page),
            (self.page_up_button, lambda: m.move_page(-1)),
            (self.page_down_button, lambda: m.move_page(+1)),
            (self.add_panel_button, m.add_panel),
            (self.remove_panel_button, m.remove_panel),
            (self.panel_up_button, lambda: m.move_panel(-1)),
            (self.panel_down_button, lambda: m.move_panel(+1)),
        ):
            b.on_click(self.clicked(action))
        self.update()

    def _select(self, level: str, index: int | None) -> None:
        if index is not None:
            self.commit(lambda: self.model.select(**{level: index}))

    def update(self) -> None:
        """Redraw the pickers from the plan and the selection."""
        m = self.model
        for b in (self.add_page_button, self.add_panel_button):
            b.disabled = m.plan is None
        if m.plan is None:
            return
        plan = m.plan
        with self.writing():
            set_options(
                self.chapter_select,
                [(f"{i + 1}. {ch.title}", i) for i, ch in enumerate(plan.chapters)],
                m.chapter_index,
            )
            self.chapter_title.value = m.chapter.title
            pages = [(f"page {pg.page_number} ({pg.layout})", i) for i, pg in enumerate(m.chapter.pages)]
            set_options(self.page_select, pages, m.page_index)
            self.layout_select.value = m.page.layout
            panels = [(f"{p.position}: {p.action[:40]}", i) for i, p in enumerate(m.page.panels)]
            set_options(self.panel_select, panels, m.panel_index)
