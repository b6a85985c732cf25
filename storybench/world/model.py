"""World info as data: entries (lorebook items), the world's scan settings, characters.

A :class:`World` is what SillyTavern calls World Info and the character card
specs call a ``character_book``: entries that are put into the model's context
when one of their keys appears in the recent story (or always, for constant
entries). The fields follow SillyTavern's entry definition
(``public/scripts/world-info.js``, ``newWorldInfoEntryDefinition``) with Python
names; the importers in :mod:`storybench.world.sillytavern` and
:mod:`storybench.world.cards` map them both ways. Fields a format holds that
storybench does not use are kept in ``extra`` (per entry and per world) so an
export gives them back.

Key syntax: a key ``/pattern/flags`` is a regular expression as SillyTavern writes
it (JavaScript flags ``i``, ``m``, ``s`` are honoured, ``g``, ``u``, ``y`` ignored);
any other key is matched as text (see :mod:`storybench.world.keys`).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Character",
    "EntrySource",
    "Position",
    "SelectiveLogic",
    "World",
    "WorldEntry",
    "WorldSettings",
]


class SelectiveLogic(IntEnum):
    """How secondary keys gate an entry whose primary key matched (SillyTavern's
    ``world_info_logic``; the numbers are the ones written in its files)."""

    AND_ANY = 0  # fires when any secondary key also matches
    NOT_ALL = 1  # fires unless every secondary key matches
    NOT_ANY = 2  # fires when no secondary key matches
    AND_ALL = 3  # fires when every secondary key matches


class Position(IntEnum):
    """Where an entry's text goes (SillyTavern's ``world_info_position`` numbers).

    ``BEFORE``: before the story (after the premise); ``AFTER``: after the story so
    far; ``AT_DEPTH``: inside the recent history, ``depth`` segments from the end.
    The author's-note and example-message anchors are kept for round trips and are
    placed with the author's note (``AN_*``) or before the story (``EM_*``).
    """

    BEFORE = 0
    AFTER = 1
    AN_TOP = 2
    AN_BOTTOM = 3
    AT_DEPTH = 4
    EM_TOP = 5
    EM_BOTTOM = 6


class EntrySource(StrEnum):
    """The format an entry (or world) was read from."""

    STORYBENCH = "storybench"
    SILLYTAVERN = "sillytavern"
    CHARACTER_BOOK = "character_book"


class WorldEntry(BaseModel):
    """One world info entry.

    Attributes:
        uid: identifier, unique in its world (SillyTavern ``uid``, card book ``id``).
        keys: primary keys; any one of them triggers the entry.
        secondary_keys: optional keys checked with ``selective_logic`` when ``selective``.
        selective: whether the secondary keys gate the entry.
        selective_logic: AND ANY / NOT ALL / NOT ANY / AND ALL.
        comment: the entry's title (not sent to the model).
        content: the text put into the context.
        constant: always fires (still subject to ``probability``).
        enabled: ``False`` entries never fire (SillyTavern ``disable`` inverted).
        order: insertion order and priority: higher is placed later (nearer the
            story's end) and kept first when the token budget is full.
        position: where the text goes (:class:`Position`).
        depth: for ``AT_DEPTH``: how many segments from the end of the history.
        probability: percent chance to fire once triggered (``None``: 100).
        use_probability: whether ``probability`` applies.
        exclude_recursion: not triggered by other entries' text, only by the story.
        prevent_recursion: its text does not trigger other entries.
        scan_depth: recent segments scanned for this entry (``None``: the world's).
        case_sensitive: ``None``: the world's setting.
        match_whole_words: ``None``: the world's setting.
        extra: fields of the source format that storybench does not use (kept for export).
        extensions: a card book entry's unknown ``extensions`` fields (kept for export).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    uid: int = Field(0, ge=0)
    keys: list[str] = Field(default_factory=list)
    secondary_keys: list[str] = Field(default_factory=list)
    selective: bool = True
    selective_logic: SelectiveLogic = SelectiveLogic.AND_ANY
    comment: str = ""
    content: str = ""
    constant: bool = False
    enabled: bool = True
    order: int | float = 100
    position: Position = Position.BEFORE
    depth: int = Field(4, ge=0)
    probability: int | float | None = Field(100, ge=0, le=100)
    use_probability: bool = True
    exclude_recursion: bool = False
    prevent_recursion: bool = False
    scan_depth: int | None = Field(None, ge=0)
    case_sensitive: bool | None = None
    match_whole_words: bool | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    extensions: dict[str, Any] = Field(default_factory=dict)

    @property
    def title(self) -> str:
        """The comment, else the first key, else ``#uid``."""
        return self.comment or (self.keys[0] if self.keys else f"#{self.uid}")


class WorldSettings(BaseModel):
    """World-wide matching settings (SillyTavern's global World Info settings).

    Attributes:
        scan_depth: recent segments scanned for keys (entries may override).
        case_sensitive: keys match case-sensitively by default.
        match_whole_words: keys match whole words only by default (Unicode word
            characters, so Cyrillic works; SillyTavern's default is ``False``).
        token_budget: tokens for the whole world block (``None``: ``budget_percent``
            of the context window).
        budget_percent: share of the context window when ``token_budget`` is ``None``.
        recursion_depth: passes in which fired entries' text may trigger others
            (0: no recursion).
        regex_timeout: seconds one regex key may take on one text before it is stopped.
        semantic_top_k: entries recalled by meaning (0: none), when a semantic index is given.
        semantic_threshold: least cosine similarity for a semantic recall (multilingual-e5-small
            scores related texts about 0.79 to 0.9 and unrelated ones about 0.7 to 0.78).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    scan_depth: int = Field(2, ge=0, le=1000)
    case_sensitive: bool = False
    match_whole_words: bool = False
    token_budget: int | None = Field(None, ge=0)
    budget_percent: float = Field(25.0, gt=0, le=100)
    recursion_depth: int = Field(3, ge=0, le=20)
    regex_timeout: float = Field(0.05, gt=0, le=10)
    semantic_top_k: int = Field(2, ge=0, le=100)
    semantic_threshold: float = Field(0.79, ge=-1, le=1)


class Character(BaseModel):
    """A story character taken from a character card (V2 or V3 ``data`` fields).

    Attributes:
        name: the character's name.
        description: appearance and background (reaches illustration prompts).
        personality: short personality summary.
        scenario: the situation the story starts from.
        first_message: the opening (card ``first_mes``).
        alternate_openings: other openings (``alternate_greetings``).
        example_dialogue: example dialogue (``mes_example``).
        tags: the card's tags.
        creator: the card's author.
        card: the rest of the card JSON as read (every field not above and not the
            ``character_book``, known to the spec or not), so it can be exported again;
            empty for a character made in storybench.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_message: str = ""
    alternate_openings: list[str] = Field(default_factory=list)
    example_dialogue: str = ""
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    card: dict[str, Any] = Field(default_factory=dict, repr=False)


class World(BaseModel):
    """A named set of entries with its settings.

    Attributes:
        name: shown to the writer (SillyTavern file name, card book ``name``).
        entries: the entries, in their file order.
        settings: matching settings.
        source: the format this world was read from (export writes it back there).
        extra: top-level fields of the source format that storybench does not use.
        characters: story characters that came with the world (from character cards).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = ""
    entries: list[WorldEntry] = Field(default_factory=list)
    settings: WorldSettings = Field(default_factory=WorldSettings)
    source: EntrySource = EntrySource.STORYBENCH
    extra: dict[str, Any] = Field(default_factory=dict)
    characters: list[Character] = Field(default_factory=list)

    def entry(self, uid: int) -> WorldEntry:
        """The entry with ``uid``.

        Raises:
            KeyError: no such entry.
        """
        for entry in self.entries:
            if entry.uid == uid:
                return entry
        raise KeyError(uid)

    def next_uid(self) -> int:
        """A uid no entry uses yet."""
        return max((e.uid for e in self.entries), default=-1) + 1

    def merged(self, other: World) -> World:
        """This world with ``other``'s entries appended (their uids renumbered after ours)."""
        start = self.next_uid()
        moved = [e.model_copy(update={"uid": start + i}) for i, e in enumerate(other.entries)]
        return self.model_copy(update={"entries": [*self.entries, *moved]})
