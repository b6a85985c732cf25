"""Plan issues in words a writer reads first: "Page 2, panel 1: the action is empty".

A :class:`~storybench.exceptions.PlanIssue` carries a JSON path
(``chapters[0].pages[1].panels[0].action``) and a message; :func:`issue_words` turns
the path (read with :class:`~storybench.plan.paths.PlanPath`) into the place as the
writer sees it (chapter only when the plan has more than one, the page's printed
number, the panel's position, the dialogue line, the character's name) and puts the
JSON path after it. :func:`panel_words` names a panel the same way for status notes.
"""

from __future__ import annotations

from storybench.exceptions import PlanIssue
from storybench.plan.models import ComicPlan
from storybench.plan.paths import PlanPath

__all__ = ["issue_place", "issue_words", "panel_words"]


def _character_place(plan: ComicPlan | None, index: int) -> str:
    chars = plan.characters if plan is not None else []
    name = chars[index].name if index < len(chars) else f"#{index + 1}"
    return f"Character “{name}”"


def issue_place(plan: ComicPlan | None, path: str | PlanPath) -> str:
    """Where ``path`` is, in words: ``"Page 2, panel 1, line 2"``, ``"Character “Ada”"``;
    ``""`` when the path is not inside chapters or characters."""
    where = path if isinstance(path, PlanPath) else PlanPath.parse(path)
    if where.character is not None:
        return _character_place(plan, where.character)
    if where.chapter is None:
        return ""
    parts = _page_parts(plan, where)
    if where.line is not None:
        parts.append(f"line {where.line + 1}")
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def _page_parts(plan: ComicPlan | None, where: PlanPath) -> list[str]:
    c = where.chapter or 0
    chapters = plan.chapters if plan is not None else []
    parts = [f"Chapter {c + 1}"] if len(chapters) > 1 or where.page is None else []
    if where.page is not None:
        p = where.page
        pages = chapters[c].pages if c < len(chapters) else []
        parts.append(f"Page {pages[p].page_number if p < len(pages) else p + 1}")
        if where.panel is not None:
            parts.append(f"panel {where.panel + 1}")
    return parts


def issue_words(plan: ComicPlan | None, issue: PlanIssue, *, with_path: bool = True) -> str:
    """``"<place>: <message> (<JSON path>)"`` — the place in words first, the path last
    (left out with ``with_path=False``, for questions and status lines a writer reads)."""
    place = issue_place(plan, issue.path)
    message = issue.message[:1].lower() + issue.message[1:] if place else issue.message
    head = f"{place}: {message}" if place else message
    return f"{head} ({issue.path})" if issue.path and with_path else head


def panel_words(plan: ComicPlan | None, chapter: int, page: int, panel: int) -> str:
    """A panel named as the writer sees it: ``"page 2, panel 4"`` (``"chapter 2, page 5, panel 1"``
    when the plan has several chapters)."""
    text = issue_place(plan, PlanPath.of_panel(chapter, page, panel))
    return text[:1].lower() + text[1:]
