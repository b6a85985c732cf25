"""The words the story exports add around the story's own text, in the story's language.

Navigation and labels ("← back", "other version 2 of 3", "not written yet"...) are
chosen by the primary subtag of the story's BCP-47 language (``"uk"``, ``"uk-UA"`` →
Ukrainian); a language without its own words gets English. To add a language, add
one :class:`ExportWords` to :data:`WORDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WORDS", "ExportWords", "export_words"]


@dataclass(frozen=True)
class ExportWords:
    """The words of one language.

    Attributes:
        back: the link back to the segment before (HTML, EPUB).
        back_short: the same in a Twee placeholder passage (a plain link text).
        other_version: ``str.format`` pattern with ``n`` and ``total``: a link to a
            regenerated version of the same segment.
        not_written: an untaken choice's mark.
        placeholder: the text of the Twee passage an untaken choice links to.
        start: the name of the first segment in a table of contents.
        all_passages: the heading of the HTML table of contents.
        premise, style, language: the Markdown header's labels.
        contents: the EPUB's table of contents heading.
    """

    back: str
    back_short: str
    other_version: str
    not_written: str
    placeholder: str
    start: str
    all_passages: str
    premise: str
    style: str
    language: str
    contents: str

    def version_link(self, n: int, total: int) -> str:
        """``other_version`` filled in: version ``n`` of ``total`` (1-based)."""
        return self.other_version.format(n=n, total=total)


#: Words by primary language subtag; ``"en"`` is the fallback.
WORDS: dict[str, ExportWords] = {
    "en": ExportWords(
        back="← back",
        back_short="back",
        other_version="other version {n} of {total}",
        not_written="not written yet",
        placeholder="not written yet — continue this branch in storybench",
        start="Start",
        all_passages="All passages",
        premise="Premise",
        style="Style",
        language="Language",
        contents="Contents",
    ),
    "uk": ExportWords(
        back="← назад",
        back_short="назад",
        other_version="інша версія {n} з {total}",
        not_written="ще не написано",
        placeholder="ще не написано — продовжте цю гілку в storybench",
        start="Початок",
        all_passages="Усі уривки",
        premise="Задум",
        style="Стиль",
        language="Мова",
        contents="Зміст",
    ),
}


def export_words(language: str) -> ExportWords:
    """The words for a BCP-47 ``language`` tag (case-insensitive), English when it has none."""
    primary = language.split("-", 1)[0].lower()
    return WORDS.get(primary, WORDS["en"])
