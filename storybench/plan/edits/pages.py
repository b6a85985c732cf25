"""Edits of the page structure: layouts, panels, pages and chapters (see :mod:`storybench.plan.edits`)."""

from __future__ import annotations

from storybench.plan.edits.base import (
    PLACEHOLDER_ACTION,
    Edited,
    EditRejected,
    fresh_ids,
    has_text,
    new_panel,
    run_edit,
)
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES, layout_for_count, template_id
from storybench.plan.models import MAX_PAGES, Chapter, ComicPlan, Page, PanelPlan
from storybench.plan.paths import PlanPath

__all__ = [
    "add_chapter",
    "add_page",
    "add_panel",
    "move_page",
    "move_panel",
    "move_to_new_page",
    "remove_chapter",
    "remove_page",
    "remove_panel",
    "rename_chapter",
    "set_layout",
    "surplus_panels",
]


def _page(plan: ComicPlan, at: PlanPath) -> Page:
    return plan.chapters[at.chapter or 0].pages[at.page or 0]


def _panel_name(panel: PanelPlan) -> str:
    return f"panel {panel.position} (“{panel.action[:30]}”, {panel.id})"


# -- layout and panels ---------------------------------------------------------------------
def _known_layout(layout: str) -> None:
    if layout not in TEMPLATES:
        raise EditRejected(f"unknown layout {layout!r}; known: {', '.join(TEMPLATE_IDS)}")


def surplus_panels(page: Page, layout: str) -> list[PanelPlan]:
    """The panels of ``page`` that ``layout`` has no room for, empty ones first, in page order."""
    surplus = len(page.panels) - TEMPLATES[layout].panel_count
    if surplus <= 0:
        return []
    order = sorted(range(len(page.panels)), key=lambda i: (has_text(page.panels[i]), -i))
    return [page.panels[i] for i in sorted(order[:surplus])]


def set_layout(plan: ComicPlan, at: PlanPath, layout: str) -> Edited:
    """Give the page at ``at`` another layout: missing panels are added with a placeholder
    action, surplus panels (see :func:`surplus_panels`) are dropped and named in the note.

    Raises:
        EditRejected: unknown layout.
    """
    _known_layout(layout)
    need = TEMPLATES[layout].panel_count
    dropped = surplus_panels(_page(plan, at), layout)

    def change(copy: ComicPlan) -> None:
        page = _page(copy, at)
        panels = list(page.panels)
        while len(panels) < need:
            panels.append(new_panel(copy, page.id, panels[-1].location if panels else ""))
            page.panels = panels  # so the next fresh id sees it
        gone = {p.id for p in dropped}
        page.panels = [p for p in panels if p.id not in gone]
        page.layout = template_id(layout)

    edited, _ = run_edit(f"layout {layout}", plan, change)
    if dropped:
        names = ", ".join(_panel_name(p) for p in dropped)
        note = f"layout {layout!r} holds {need} panel(s): moved {names} to the undo history; Undo restores them"
    else:
        note = f"layout is now {layout!r}"
    return Edited(edited, note)


def move_to_new_page(plan: ComicPlan, at: PlanPath, layout: str, moved_ids: set[str]) -> Edited:
    """Give the page at ``at`` ``layout`` and move the panels ``moved_ids`` to a new page after it
    (in a layout that fits them).

    Raises:
        EditRejected: unknown layout, or the plan already has the most pages a plan may have.
    """
    _known_layout(layout)
    if plan.page_count() >= MAX_PAGES:
        raise EditRejected(f"a plan has at most {MAX_PAGES} pages: drop the panels or remove a page first")
    ci, pi = at.chapter or 0, at.page or 0

    def change(copy: ComicPlan) -> None:
        chapter = copy.chapters[ci]
        page = chapter.pages[pi]
        carry = [p for p in page.panels if p.id in moved_ids]
        page.panels = [p for p in page.panels if p.id not in moved_ids]
        page.layout = template_id(layout)
        new_page = Page(
            id=fresh_ids(copy, f"{chapter.id}-p")[0],
            page_number=page.page_number + 1,
            layout=template_id(layout_for_count(len(carry)) or layout),
            panels=carry,
        )
        chapter.pages = [*chapter.pages[: pi + 1], new_page, *chapter.pages[pi + 1 :]]

    edited, _ = run_edit(f"layout {layout}", plan, change)
    note = f"layout is now {layout!r}; moved {len(moved_ids)} panel(s) to a new page after this one"
    return Edited(edited, note, PlanPath.of_panel(ci, pi, 0))


def add_panel(plan: ComicPlan, at: PlanPath) -> Edited:
    """Add a panel after the one at ``at``; the layout switches to one with one more panel.

    Raises:
        EditRejected: no layout holds that many panels (the most is 5).
    """
    page0 = _page(plan, at)
    k = at.panel or 0
    layout = layout_for_count(len(page0.panels) + 1)
    if layout is None:
        raise EditRejected(f"no layout holds {len(page0.panels) + 1} panels")

    def change(copy: ComicPlan) -> None:
        page = _page(copy, at)
        panels = list(page.panels)
        panels.insert(k + 1, new_panel(copy, page.id, panels[k].location))
        page.panels = panels
        page.layout = layout

    edited, _ = run_edit("add panel", plan, change)
    return Edited(
        edited, f"added a panel; layout is now {layout!r}", PlanPath.of_panel(at.chapter or 0, at.page or 0, k + 1)
    )


def remove_panel(plan: ComicPlan, at: PlanPath) -> Edited:
    """Remove the panel at ``at``; the layout switches to one with one panel fewer.

    Raises:
        EditRejected: it is the page's only panel.
    """
    page0 = _page(plan, at)
    n = len(page0.panels) - 1
    if n < 1:
        raise EditRejected("a page needs at least one panel; remove the page instead")
    layout = layout_for_count(n)
    if layout is None:
        raise EditRejected(f"no layout holds {n} panels")
    gone = page0.panels[at.panel or 0]

    def change(copy: ComicPlan) -> None:
        page = _page(copy, at)
        page.panels = [p for p in page.panels if p.id != gone.id]
        page.layout = layout

    edited, _ = run_edit("remove panel", plan, change)
    note = f"removed panel {gone.position} of page {page0.page_number}; layout is now {layout!r} (Undo restores it)"
    return Edited(edited, note)


def move_panel(plan: ComicPlan, at: PlanPath, delta: int) -> Edited:
    """Move the panel at ``at`` ``delta`` places in reading order.

    Raises:
        EditRejected: nowhere to move.
    """
    k = at.panel or 0
    target = k + delta
    if delta == 0 or not 0 <= target < len(_page(plan, at).panels):
        raise EditRejected("the panel cannot move further")

    def change(copy: ComicPlan) -> None:
        page = _page(copy, at)
        items = list(page.panels)
        items.insert(target, items.pop(k))
        page.panels = items

    edited, _ = run_edit("move panel", plan, change)
    return Edited(edited, "move panel", PlanPath.of_panel(at.chapter or 0, at.page or 0, target))


# -- chapters and pages ----------------------------------------------------------------------
def add_chapter(plan: ComicPlan, at: PlanPath, title: str = "New chapter") -> Edited:
    """Add a chapter with one single-panel page after the chapter at ``at``; selects it."""
    ci = (at.chapter or 0) + 1

    def change(copy: ComicPlan) -> None:
        cid = fresh_ids(copy, "ch")[0]
        pid = fresh_ids(copy, f"{cid}-p")[0]
        page = Page(id=pid, page_number=1, layout="single", panels=[new_panel(copy, pid)])
        copy.chapters = [*copy.chapters[:ci], Chapter(id=cid, title=title, pages=[page]), *copy.chapters[ci:]]

    edited, _ = run_edit("add chapter", plan, change)
    return Edited(edited, "add chapter", PlanPath.of_panel(ci, 0, 0))


def rename_chapter(plan: ComicPlan, at: PlanPath, title: str) -> Edited:
    """Set the title of the chapter at ``at``."""
    edited, _ = run_edit("rename chapter", plan, lambda copy: setattr(copy.chapters[at.chapter or 0], "title", title))
    return Edited(edited, "rename chapter")


def remove_chapter(plan: ComicPlan, at: PlanPath) -> Edited:
    """Remove the chapter at ``at`` with its pages.

    Raises:
        EditRejected: it is the only chapter.
    """
    if len(plan.chapters) < 2:
        raise EditRejected("a plan needs at least one chapter")
    ch = plan.chapters[at.chapter or 0]
    edited, _ = run_edit(
        "remove chapter", plan, lambda copy: setattr(copy, "chapters", [c for c in copy.chapters if c.id != ch.id])
    )
    note = f"removed chapter {ch.title!r} with {len(ch.pages)} page(s) (Undo restores it)"
    return Edited(edited, note, PlanPath.of_panel(min(at.chapter or 0, len(edited.chapters) - 1), 0, 0))


def add_page(plan: ComicPlan, at: PlanPath, layout: str = "single") -> Edited:
    """Add a page with placeholder panels for ``layout`` after the page at ``at``; selects it.

    Raises:
        EditRejected: unknown layout, or the plan already has the most pages a plan may have.
    """
    _known_layout(layout)
    if plan.page_count() >= MAX_PAGES:
        raise EditRejected(f"a plan has at most {MAX_PAGES} pages")
    ci, pi = at.chapter or 0, at.page or 0
    chapter0 = plan.chapters[ci]
    location = chapter0.pages[pi].panels[-1].location if chapter0.pages else ""
    index = pi + 1 if chapter0.pages else 0

    def change(copy: ComicPlan) -> None:
        ch = copy.chapters[ci]
        pid = fresh_ids(copy, f"{ch.id}-p")[0]
        ids = fresh_ids(copy, f"{pid}-pan", TEMPLATES[layout].panel_count)
        panels = [PanelPlan(id=i, position=1, action=PLACEHOLDER_ACTION, location=location) for i in ids]
        page = Page(id=pid, page_number=1, layout=template_id(layout), panels=panels)
        ch.pages = [*ch.pages[:index], page, *ch.pages[index:]]

    edited, _ = run_edit("add page", plan, change)
    return Edited(edited, "add page", PlanPath.of_panel(ci, index, 0))


def remove_page(plan: ComicPlan, at: PlanPath) -> Edited:
    """Remove the page at ``at``; a chapter left empty is removed too.

    Raises:
        EditRejected: it is the plan's only page.
    """
    if plan.page_count() < 2:
        raise EditRejected("a plan needs at least one page")
    ci, pi = at.chapter or 0, at.page or 0
    pg = plan.chapters[ci].pages[pi]

    def change(copy: ComicPlan) -> None:
        ch = copy.chapters[ci]
        ch.pages = [p for p in ch.pages if p.id != pg.id]
        if not ch.pages:
            copy.chapters = [c for c in copy.chapters if c.id != ch.id]

    edited, _ = run_edit(f"remove page {pg.page_number}", plan, change)
    if len(edited.chapters) < len(plan.chapters):  # the chapter went with its last page
        ci, pi = min(ci, len(edited.chapters) - 1), 0
    else:
        pi = min(pi, len(edited.chapters[ci].pages) - 1)
    note = f"removed page {pg.page_number} ({len(pg.panels)} panel(s)); Undo restores it"
    return Edited(edited, note, PlanPath.of_panel(ci, pi, 0))


def _page_destination(plan: ComicPlan, ci: int, pi: int, delta: int) -> tuple[int, int]:
    """Where a page moved ``delta`` places lands: ``(chapter, index)`` after the move."""
    pages = plan.chapters[ci].pages
    if 0 <= pi + delta < len(pages):
        return ci, pi + delta
    if len(pages) == 1:
        raise EditRejected(
            f"move page {pages[pi].page_number}: moving the only page of a chapter out would leave the chapter empty"
        )
    step = 1 if delta > 0 else -1
    return ci + step, 0 if step > 0 else len(plan.chapters[ci + step].pages)


def move_page(plan: ComicPlan, at: PlanPath, delta: int) -> Edited:
    """Move the page at ``at`` ``delta`` places (``-1`` earlier, ``+1`` later) within its
    chapter, or into the neighbouring chapter at an edge.

    Raises:
        EditRejected: nowhere to move, or the move would leave a chapter empty.
    """
    ci, pi = at.chapter or 0, at.page or 0
    flat = [(c, p) for c, ch in enumerate(plan.chapters) for p in range(len(ch.pages))]
    index = flat.index((ci, pi))
    if delta == 0 or not 0 <= index + delta < len(flat):
        raise EditRejected("the page cannot move further")
    pg = plan.chapters[ci].pages[pi]
    where = _page_destination(plan, ci, pi, delta)

    def change(copy: ComicPlan) -> None:
        ch = copy.chapters[ci]
        page = ch.pages[pi]
        ch.pages = [p for p in ch.pages if p.id != pg.id]
        other = copy.chapters[where[0]]
        other.pages = [*other.pages[: where[1]], page, *other.pages[where[1] :]]

    edited, _ = run_edit(f"move page {pg.page_number}", plan, change)
    return Edited(edited, f"move page {pg.page_number}", PlanPath.of_panel(where[0], where[1], 0))
