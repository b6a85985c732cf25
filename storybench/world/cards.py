"""Character cards V2 and V3 (JSON) to a :class:`Character` plus its book as a :class:`World`, and back.

Specs: Character Card V2 (``spec: "chara_card_v2"``,
github.com/malfoyslastname/character-card-spec-v2) and V3 (``spec:
"chara_card_v3"``, github.com/kwaroran/character-card-spec-v3). The embedded
``character_book`` maps to world entries the way SillyTavern converts it
(``convertCharacterBook`` in ``public/scripts/world-info.js`` and
``convertWorldInfoToCharacterBook`` in ``src/endpoints/characters.js``): the
SillyTavern-only settings live in each entry's ``extensions``. Every field of the
card and of each book entry that storybench does not use is kept (the card JSON in
``Character.card``, entry fields in ``extra`` and ``extensions``) and written back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from storybench.world.errors import WorldFormatError, first_error
from storybench.world.model import Character, EntrySource, Position, World, WorldEntry

__all__ = ["CARD_SPECS", "book_from_world", "card_from_dict", "card_to_dict", "world_from_book"]

CARD_SPECS = ("chara_card_v2", "chara_card_v3")

# card data field -> Character field
_CHARACTER: dict[str, str] = {
    "name": "name",
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "first_mes": "first_message",
    "alternate_greetings": "alternate_openings",
    "mes_example": "example_dialogue",
    "tags": "tags",
    "creator": "creator",
}
_V1_TOP = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# book entry field -> WorldEntry field
_ENTRY: dict[str, str] = {
    "id": "uid",
    "keys": "keys",
    "secondary_keys": "secondary_keys",
    "comment": "comment",
    "content": "content",
    "constant": "constant",
    "selective": "selective",
    "insertion_order": "order",
    "enabled": "enabled",
}
# book entry extensions field -> WorldEntry field
_EXTENSION: dict[str, str] = {
    "position": "position",
    "probability": "probability",
    "useProbability": "use_probability",
    "depth": "depth",
    "selectiveLogic": "selective_logic",
    "exclude_recursion": "exclude_recursion",
    "prevent_recursion": "prevent_recursion",
    "scan_depth": "scan_depth",
    "match_whole_words": "match_whole_words",
    "case_sensitive": "case_sensitive",
}


def _top_position(position: int) -> str:
    return "before_char" if position == Position.BEFORE else "after_char"


def _book_fields(raw: Mapping[str, Any], extensions: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The :class:`WorldEntry` fields of a book entry (SillyTavern's ``convertCharacterBook`` defaults)."""
    fields: dict[str, Any] = {ours: raw[theirs] for theirs, ours in _ENTRY.items() if theirs in raw}
    fields.update({ours: extensions[theirs] for theirs, ours in _EXTENSION.items() if theirs in extensions})
    fields.setdefault("uid", index)
    fields.setdefault("selective", False)
    if "position" not in fields:
        fields["position"] = Position.AFTER if raw.get("position") == "after_char" else Position.BEFORE
    if "case_sensitive" not in fields and isinstance(raw.get("case_sensitive"), bool):
        fields["case_sensitive"] = raw["case_sensitive"]
    fields["extra"] = {k: v for k, v in raw.items() if k not in _ENTRY and k != "extensions"}
    fields["extensions"] = {k: v for k, v in extensions.items() if k not in _EXTENSION}
    return fields


def _entry_from_book(raw: Any, where: str, index: int) -> WorldEntry:
    if not isinstance(raw, Mapping):
        raise WorldFormatError(where, f"a book entry must be a JSON object, not {type(raw).__name__}")
    extensions = raw.get("extensions") or {}
    if not isinstance(extensions, Mapping):
        raise WorldFormatError(f"{where}.extensions", "must be a JSON object")
    try:
        entry = WorldEntry(**_book_fields(raw, extensions, index))
    except ValidationError as exc:
        name, message = first_error(exc)
        theirs = next((t for t, o in _ENTRY.items() if o == name), None)
        if theirs is None:
            theirs = "extensions." + next((t for t, o in _EXTENSION.items() if o == name), name)
        raise WorldFormatError(f"{where}.{theirs}", message) from exc
    if entry.extra.get("position") == _top_position(entry.position):
        del entry.extra["position"]  # derived again on export
    return entry


def world_from_book(book: Any, where: str) -> World:
    """A card's ``character_book`` (or a standalone one) as a :class:`World`.

    Raises:
        WorldFormatError: the book or one entry is malformed (names the JSON path).
    """
    if not isinstance(book, Mapping) or not isinstance(book.get("entries"), list):
        raise WorldFormatError(where, 'a character book needs an "entries" list')
    entries = [_entry_from_book(raw, f"{where}.entries.{i}", i) for i, raw in enumerate(book["entries"])]
    if len({e.uid for e in entries}) != len(entries):
        raise WorldFormatError(f"{where}.entries", "two entries share one id")
    world = World(
        name=str(book.get("name") or ""),
        entries=entries,
        source=EntrySource.CHARACTER_BOOK,
        extra={k: v for k, v in book.items() if k not in ("entries", "name")},
    )
    settings = world.settings
    if isinstance(book.get("scan_depth"), int) and book["scan_depth"] >= 0:
        settings.scan_depth = book["scan_depth"]
    if isinstance(book.get("token_budget"), int) and book["token_budget"] >= 0:
        settings.token_budget = book["token_budget"]
    if book.get("recursive_scanning") is False:
        settings.recursion_depth = 0
    return world


def book_from_world(world: World) -> dict[str, Any]:
    """A :class:`World` as a ``character_book`` (its kept fields included)."""
    entries = []
    for entry in world.entries:
        out: dict[str, Any] = dict(entry.extra)
        out.update({theirs: getattr(entry, ours) for theirs, ours in _ENTRY.items()})
        out.setdefault("position", _top_position(entry.position))
        extensions = dict(entry.extensions)
        for theirs, ours in _EXTENSION.items():
            value = getattr(entry, ours)
            extensions[theirs] = int(value) if ours in ("position", "selective_logic") else value
        out["extensions"] = extensions
        entries.append(out)
    book: dict[str, Any] = dict(world.extra)
    book["entries"] = entries
    if world.name or "name" in world.extra:
        book["name"] = world.name
    if "scan_depth" in book:
        book["scan_depth"] = world.settings.scan_depth
    if "token_budget" in book or world.settings.token_budget is not None:
        book["token_budget"] = world.settings.token_budget
    if "recursive_scanning" in book:
        book["recursive_scanning"] = world.settings.recursion_depth > 0
    return book


def card_from_dict(card: Any, where: str) -> tuple[Character, World | None]:
    """A V2/V3 card JSON as a story character and its book (``None`` without one).

    Raises:
        WorldFormatError: not a V2/V3 card, or a field of the wrong kind (names the JSON path).
    """
    if not isinstance(card, Mapping) or card.get("spec") not in CARD_SPECS:
        spec = card.get("spec") if isinstance(card, Mapping) else None
        raise WorldFormatError(where, f"not a character card V2/V3 (spec is {spec!r})")
    data = card.get("data")
    if not isinstance(data, Mapping):
        raise WorldFormatError(f"{where}:data", "a character card needs a data object")
    fields = {ours: data[theirs] for theirs, ours in _CHARACTER.items() if data.get(theirs) is not None}
    # the card without what Character and the book hold (written back from them on export)
    v2 = card.get("spec") == "chara_card_v2"
    kept = copy.deepcopy({k: v for k, v in card.items() if k != "data" and not (v2 and k in _V1_TOP)})
    kept["data"] = copy.deepcopy({k: v for k, v in data.items() if k not in _CHARACTER and k != "character_book"})
    try:
        character = Character(**fields, card=kept)
    except ValidationError as exc:
        name, message = first_error(exc)
        theirs = next((t for t, o in _CHARACTER.items() if o == name), name)
        raise WorldFormatError(f"{where}:data.{theirs}", message) from exc
    book = data.get("character_book")
    world = world_from_book(book, f"{where}:data.character_book") if book is not None else None
    return character, world


def card_to_dict(character: Character, world: World | None) -> dict[str, Any]:
    """A character (and its book) as card JSON: the card it was read from, with the
    character's fields and the book written over it (a V2 card when made in storybench)."""
    card = copy.deepcopy(character.card) or {"spec": "chara_card_v2", "spec_version": "2.0", "data": {}}
    data = card.setdefault("data", {})
    for theirs, ours in _CHARACTER.items():
        data[theirs] = copy.deepcopy(getattr(character, ours))
    if card.get("spec") == "chara_card_v2":  # SillyTavern writes the V1 fields beside data
        card.update({name: data[name] for name in _V1_TOP})
    if world is not None:
        data["character_book"] = book_from_world(world)
    return card
