"""The world's characters in a piece of story: who appears, and how they look.

Illustration prompts and the comic planner need the characters a segment
mentions: :func:`characters_in` finds them by name (case-insensitive, whole words
with Unicode word characters; a name starts a word, so inflected forms match: a
name of five letters or more that ends in a vowel is also found with another
ending, ``Мирослава`` in ``Мирославу``; a name of several words also by its first
word), and :func:`appearance_lines` gives one line per character for an
image prompt, cut to a length.
"""

from __future__ import annotations

import regex

from storybench.world.model import Character, World, WorldEntry

__all__ = ["appearance_lines", "character_entries", "characters_in"]


def _names(character: Character) -> list[str]:
    name = character.name.strip()
    parts = name.split()
    return [name, parts[0]] if len(parts) > 1 and len(parts[0]) > 2 else [name]


_VOWELS = set("аеєиіїоуюяьйaeiouy")


def _stem(name: str) -> str:
    name = name.casefold()
    return name[:-1] if len(name) >= 5 and name[-1] in _VOWELS else name


def characters_in(world: World, text: str) -> list[Character]:
    """The world's characters whose name (or first name) starts a word of ``text``, in world order."""
    folded = text.casefold()
    found = []
    for character in world.characters:
        for name in _names(character):
            if name and regex.search(r"(?<!\w)" + regex.escape(_stem(name)), folded):
                found.append(character)
                break
    return found


def appearance_lines(characters: list[Character], max_chars: int = 300) -> list[str]:
    """``"Name: description"`` per character, each cut to ``max_chars`` characters at a word."""
    lines = []
    for character in characters:
        line = " ".join(f"{character.name}: {character.description}".split())
        if len(line) > max_chars:
            line = line[: max_chars - 1].rsplit(" ", 1)[0] + "…"
        lines.append(line)
    return lines


def character_entries(world: World, first_uid: int | None = None) -> list[WorldEntry]:
    """The world's characters as world entries (keyed by their names, the description as
    text), so a character's description reaches the context when the character is named."""
    start = world.next_uid() if first_uid is None else first_uid
    return [
        WorldEntry(uid=start + i, keys=_names(c), comment=c.name, content=f"{c.name}: {c.description}")
        for i, c in enumerate(world.characters)
        if c.description.strip()
    ]
