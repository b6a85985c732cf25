"""A typed location in a comic plan, with one grammar for its text form.

Errors, issues, repairs and the editor all name a place in a plan by a JSON path such as
``chapters[0].pages[1].panels[2].dialogue[0].text`` or ``characters[1].name`` (the text
form :class:`~storybench.exceptions.PlanIssue` carries). :class:`PlanPath` is that path
as data (like pydantic-core's ``ErrorDetails.loc``): 0-based indices of the chapter,
page, panel, dialogue line or character, and the field below them. :meth:`PlanPath.parse`
reads the text form and ``str(path)`` writes it back unchanged, so no other module splits
paths by hand or keeps a second regular expression.

Grammar (``N`` a decimal index, ``FIELD`` any text without a leading index)::

    path      := chapter | character | FIELD
    chapter   := "chapters[N]" [".pages[N]" [".panels[N]" [".dialogue[N]"]]] ["." FIELD]
    character := "characters[N]" ["." FIELD]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["PlanPath"]

_CHAPTER = re.compile(
    r"^chapters\[(?P<c>\d+)\]"
    r"(?:\.pages\[(?P<p>\d+)\](?:\.panels\[(?P<k>\d+)\](?:\.dialogue\[(?P<n>\d+)\])?)?)?"
    r"(?:\.(?P<rest>.+))?$"
)
_CHARACTER = re.compile(r"^characters\[(?P<i>\d+)\](?:\.(?P<rest>.+))?$")


def _index(text: str | None) -> int | None:
    return int(text) if text is not None else None


@dataclass(frozen=True)
class PlanPath:
    """A place in a plan: indices from the plan down, then a field.

    Attributes:
        chapter, page, panel, line: 0-based indices into ``chapters``, the chapter's
            ``pages``, the page's ``panels`` and the panel's ``dialogue``; ``None`` below
            the deepest one given.
        character: 0-based index into ``characters`` (then the chapter indices are ``None``).
        field: what follows the deepest index (``"action"``, ``"text"``, ``"characters[1]"``,
            ``"pageNumber"``), or the whole path when it names a plan-level field
            (``"style"``, ``"chapters"``); ``None`` for the place itself.
    """

    chapter: int | None = None
    page: int | None = None
    panel: int | None = None
    line: int | None = None
    character: int | None = None
    field: str | None = None

    # -- reading and writing the text form ---------------------------------------------
    @classmethod
    def parse(cls, text: str) -> PlanPath:
        """Read a JSON path; a path outside chapters and characters becomes a plan-level ``field``.

        Never raises: ``PlanPath.parse(str(p)) == p`` for every path this module writes.
        """
        m = _CHARACTER.match(text)
        if m:
            return cls(character=int(m["i"]), field=m["rest"])
        m = _CHAPTER.match(text)
        if m:
            return cls(_index(m["c"]), _index(m["p"]), _index(m["k"]), _index(m["n"]), field=m["rest"])
        return cls(field=text or None)

    def __str__(self) -> str:
        if self.character is not None:
            head = f"characters[{self.character}]"
        elif self.chapter is not None:
            head = f"chapters[{self.chapter}]"
            for name, index in (("pages", self.page), ("panels", self.panel), ("dialogue", self.line)):
                if index is None:
                    break
                head += f".{name}[{index}]"
        else:
            return self.field or ""
        return f"{head}.{self.field}" if self.field else head

    # -- building ------------------------------------------------------------------------
    @classmethod
    def of_panel(cls, chapter: int, page: int, panel: int) -> PlanPath:
        """The path of one panel: ``chapters[c].pages[p].panels[k]``."""
        return cls(chapter, page, panel)

    @classmethod
    def of_character(cls, index: int) -> PlanPath:
        """The path of one character: ``characters[i]``."""
        return cls(character=index)

    def at(self, field: str) -> PlanPath:
        """This place with ``field`` below it (``panel.at("action")``)."""
        return replace(self, field=field)

    def dialogue(self, line: int) -> PlanPath:
        """Dialogue line ``line`` of this panel."""
        return replace(self, line=line, field=None)

    # -- questions -----------------------------------------------------------------------
    @property
    def in_chapters(self) -> bool:
        """The path is inside ``chapters[...]``."""
        return self.chapter is not None

    @property
    def in_characters(self) -> bool:
        """The path is inside ``characters[...]``."""
        return self.character is not None

    @property
    def panel_path(self) -> PlanPath | None:
        """The panel this path is in (no line, no field), or ``None`` above panel level."""
        if self.panel is None:
            return None
        return PlanPath(self.chapter, self.page, self.panel)

    @property
    def below_panel(self) -> str | None:
        """The part of the path below the selection an editor shows (chapter, page, panel or
        character): ``"dialogue[0].text"``, ``"action"``, ``"name"``; ``None`` for the place itself."""
        if self.line is None:
            return self.field
        return f"dialogue[{self.line}]" + (f".{self.field}" if self.field else "")

    @property
    def head(self) -> str:
        """The first name of :attr:`below_panel` without indices: ``"dialogue"``, ``"action"``; ``""`` for none."""
        below = self.below_panel or ""
        return below.split(".", 1)[0].split("[", 1)[0]
