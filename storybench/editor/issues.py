"""Plan issues in words a writer reads first: "Page 2, panel 1: the action is empty".

A :class:`~storybench.exceptions.PlanIssue` carries a JSON path
(``chapters[0].pages[1].panels[0].action``) and a message; :func:`issue_words` turns
the path into the place as the writer sees it (chapter only when the plan has more
than one, the page's printed number, the panel's position, the dialogue line, the
character's name) and puts the JSON path after it.
"""

from __future__ import annotations

import re

from storybench.exceptions import PlanIssue
from storybench.plan.models import ComicPlan

__all__ = ["issue_place", "issue_words"]

_PANEL = re.compile(r"^chapters\[(?P<c>\d+)\](?:\.pages\[(?P<p>\d+)\](?:\.panels\[(?P<k>\d+)\])?)?(?:\.(?P<rest>.+))?$")
_CHAR = re.compile(r"^characters\[(?P<i>\d+)\](?:\.(?P<rest>.+))?$")
_LINE = re.compile(r"^dialogue\[(?P<n>\d+)\](?:\.(?P<field>\w+))?")
_FIELDS = {
    "action": "the action",
    "location": "the location",
    "mood": "the mood",
    "camera": "the camera",
    "narrative": "the caption",
    "sfx": "the SFX",
    "characters": "the characters",
    "layout": "the layout",
    "title": "the title",
    "name": "the name",
    "appearance": "the appearance",
    "clothing": "the clothing",
}


def issue_place(plan: ComicPlan | None, path: str) -> str:
    """Where ``path`` is, in words: ``"Page 2, panel 1, line 2"``, ``"Character “Ada”"``;
    ``""`` when the path is not inside chapters or characters."""
    m = _CHAR.match(path)
    if m:
        i = int(m.group("i"))
        chars = plan.characters if plan is not None else []
        name = chars[i].name if i < len(chars) else f"#{i + 1}"
        return f"Character “{name}”"
    m = _PANEL.match(path)
    if not m:
        return ""
    c = int(m.group("c"))
    parts: list[str] = []
    chapters = plan.chapters if plan is not None else []
    if len(chapters) > 1 or m.group("p") is None:
        parts.append(f"Chapter {c + 1}")
    if m.group("p") is not None:
        p = int(m.group("p"))
        pages = chapters[c].pages if c < len(chapters) else []
        parts.append(f"Page {pages[p].page_number if p < len(pages) else p + 1}")
        if m.group("k") is not None:
            parts.append(f"panel {int(m.group('k')) + 1}")
    rest = m.group("rest") or ""
    line = _LINE.match(rest)
    if line:
        parts.append(f"line {int(line.group('n')) + 1}")
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def issue_words(plan: ComicPlan | None, issue: PlanIssue) -> str:
    """``"<place>: <message> (<JSON path>)"`` — the place in words first, the path last."""
    place = issue_place(plan, issue.path)
    message = issue.message[:1].lower() + issue.message[1:] if place else issue.message
    head = f"{place}: {message}" if place else message
    return f"{head} ({issue.path})" if issue.path else head
