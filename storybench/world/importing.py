"""Reading a world or card file of any supported kind, and writing it back out.

:func:`load_world_file` recognises, by content rather than by name:

* a PNG character card (``tEXt`` chunk ``ccv3`` or ``chara``, base64 JSON);
* a CharX zip (``card.json``);
* JSON: a V2/V3 card, a SillyTavern World Info file, a standalone
  ``character_book``, or a storybench world (:class:`~storybench.world.model.World`).

Everything is checked before anything is returned, so a bad file imports nothing.
Limits: 5 MB of JSON (a world file or a decoded card), 50 MB for a PNG or CharX
file, 20,000 entries.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from storybench.files import atomic_write_bytes, atomic_write_text
from storybench.world.cards import CARD_SPECS, card_from_dict, card_to_dict, world_from_book
from storybench.world.errors import WorldFormatError, WorldTooLargeError
from storybench.world.model import Character, World
from storybench.world.png_chunks import (
    PNG_SIGNATURE,
    read_charx_card,
    read_text_chunks,
    write_charx_card,
    write_text_chunks,
)
from storybench.world.sillytavern import world_from_sillytavern, world_to_sillytavern

__all__ = [
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "MAX_JSON_BYTES",
    "Imported",
    "card_json_bytes",
    "load_world_file",
    "parse_world_bytes",
    "save_card_png",
    "save_charx",
    "save_sillytavern",
    "save_world",
]

MAX_JSON_BYTES = 5 * 1024 * 1024
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 20_000
Kind = Literal["card_png", "charx", "card_json", "sillytavern", "character_book", "storybench"]


@dataclass
class Imported:
    """What one file held.

    Attributes:
        kind: the file's format.
        world: its entries (a card's book; empty for a card without one).
        character: the card's character (``None`` for a world file).
        original: the file's bytes (a card PNG or CharX zip keeps its image and assets).
    """

    kind: Kind
    world: World
    character: Character | None = None
    original: bytes = b""

    def story_world(self) -> World:
        """The world with the card's character in ``characters`` (what a story takes in)."""
        if self.character is None:
            return self.world
        return self.world.model_copy(update={"characters": [*self.world.characters, self.character]})


def _json(text: bytes | str, where: str) -> Any:
    if len(text) > MAX_JSON_BYTES:
        raise WorldTooLargeError(where, f"{len(text):,} bytes of JSON is over the {MAX_JSON_BYTES:,} byte limit")
    try:
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise WorldFormatError(where, f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise WorldFormatError(f"{where}:{exc.lineno}:{exc.colno}", f"broken JSON: {exc.msg}") from exc


def _card_from_png(data: bytes, where: str) -> Imported:
    chunks = read_text_chunks(data, where)
    keyword = "ccv3" if "ccv3" in chunks else "chara" if "chara" in chunks else None
    if keyword is None:
        raise WorldFormatError(where, "this PNG holds no character card (no chara or ccv3 text chunk)")
    place = f"{where}[tEXt {keyword}]"
    if len(chunks[keyword]) > MAX_JSON_BYTES * 4 // 3 + 4:
        raise WorldTooLargeError(place, f"the card is over the {MAX_JSON_BYTES:,} byte limit")
    try:
        raw = base64.b64decode(chunks[keyword], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WorldFormatError(place, f"the card's base64 is broken ({exc})") from exc
    character, world = card_from_dict(_json(raw, place), place)
    return Imported("card_png", world or World(name=character.name), character, data)


def _from_json(data: Any, where: str, name: str) -> Imported:
    if not isinstance(data, dict):
        raise WorldFormatError(where, f"expected a JSON object, found {type(data).__name__}")
    if data.get("spec") in CARD_SPECS:
        character, world = card_from_dict(data, where)
        return Imported("card_json", world or World(name=character.name), character)
    if "lorebookVersion" in data:
        raise WorldFormatError(where, "a NovelAI lorebook is not supported; export it from SillyTavern as World Info")
    entries = data.get("entries")
    if isinstance(entries, dict):
        return Imported("sillytavern", world_from_sillytavern(data, where, name))
    if isinstance(entries, list) and "settings" in data and "source" in data:
        try:
            return Imported("storybench", World.model_validate(data))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise WorldFormatError(f"{where}:{loc}", first["msg"]) from exc
    if isinstance(entries, list):
        return Imported("character_book", world_from_book(data, where))
    raise WorldFormatError(
        where, "not a world file storybench reads (SillyTavern World Info, a character card V2/V3 or a character book)"
    )


def parse_world_bytes(data: bytes, where: str, name: str = "") -> Imported:
    """Recognise and read one file's bytes (see the module doc).

    Args:
        data: the file's content.
        where: the file's name or path, for error messages.
        name: the world's name when the format does not hold one (SillyTavern: the file name).

    Raises:
        WorldFormatError: not a supported format, or broken (one sentence naming where).
        WorldTooLargeError: over a size limit.
    """
    if len(data) > MAX_FILE_BYTES:
        raise WorldTooLargeError(where, f"{len(data):,} bytes is over the {MAX_FILE_BYTES:,} byte limit")
    if data.startswith(PNG_SIGNATURE):
        imported = _card_from_png(data, where)
    elif data.startswith(b"PK\x03\x04"):
        imported = _from_json(_json(read_charx_card(data, where), f"{where}[card.json]"), f"{where}[card.json]", name)
        imported.kind, imported.original = "charx", data
    else:
        imported = _from_json(_json(data.removeprefix(b"\xef\xbb\xbf"), where), where, name)
    if len(imported.world.entries) > MAX_ENTRIES:
        raise WorldTooLargeError(where, f"{len(imported.world.entries):,} entries is over the {MAX_ENTRIES:,} limit")
    return imported


def load_world_file(path: str | os.PathLike[str]) -> Imported:
    """Read a world or card file (see the module doc); a SillyTavern world is named after its file.

    Raises:
        WorldFormatError, WorldTooLargeError: as :func:`parse_world_bytes`.
        OSError: the file cannot be read.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WorldTooLargeError(str(path), f"{size:,} bytes is over the {MAX_FILE_BYTES:,} byte limit")
    return parse_world_bytes(path.read_bytes(), str(path), name=path.stem)


def save_world(world: World, path: str | os.PathLike[str]) -> Path:
    """Write ``world`` (with its characters) as a storybench world JSON file, atomically."""
    return atomic_write_text(path, world.model_dump_json(indent=2) + "\n")


def save_sillytavern(world: World, path: str | os.PathLike[str]) -> Path:
    """Write ``world`` as SillyTavern World Info JSON, atomically."""
    return atomic_write_text(path, json.dumps(world_to_sillytavern(world), indent=4, ensure_ascii=False) + "\n")


def card_json_bytes(character: Character, world: World | None) -> bytes:
    """The card JSON (UTF-8) of ``character`` with ``world`` as its book."""
    return json.dumps(card_to_dict(character, world), ensure_ascii=False).encode("utf-8")


def save_card_png(character: Character, world: World | None, image: bytes, path: str | os.PathLike[str]) -> Path:
    """Write a card PNG: ``image`` (PNG bytes, e.g. the imported card's) with the card in its
    ``chara`` chunk (and ``ccv3`` too for a V3 card, as SillyTavern writes them), atomically."""
    card = card_to_dict(character, world)
    encoded = base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")
    texts = {"chara": encoded}
    if card.get("spec") == "chara_card_v3":
        texts["ccv3"] = encoded
    return atomic_write_bytes(path, write_text_chunks(image, texts, str(path)))


def save_charx(character: Character, world: World | None, original: bytes, path: str | os.PathLike[str]) -> Path:
    """Write a CharX zip: ``original``'s members with a new ``card.json``, atomically."""
    return atomic_write_bytes(path, write_charx_card(original, card_json_bytes(character, world)))
