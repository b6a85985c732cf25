"""The world info a comic planner's stages 1 and 2 are offered: characters and places.

:func:`world_brief` turns a :class:`~storybench.world.model.World` into a few lines for
the characters and structure prompts: every character with their look (a card's
description), and the world entries that fire for the story idea (by their keys, or
constant ones), each with its title; cut to ``max_chars`` characters, characters first.
"""

from __future__ import annotations

from storybench.world.activation import activate
from storybench.world.characters import appearance_lines
from storybench.world.model import World

__all__ = ["world_brief"]


def _entry_line(title: str, content: str) -> str:
    text = " ".join(content.split())[:300]
    return f"- {title}: {text}" if title else f"- {text}"


def _lines(world: World, prompt: str, budget: int) -> list[str]:
    lines: list[str] = []
    if world.characters:
        lines.append("Characters:")
        lines += [f"- {line}" for line in appearance_lines(list(world.characters), 240)]
    fired = activate(world, [prompt], budget=budget).fired if world.entries else []
    if fired:
        lines.append("Places and facts:")
        lines += [_entry_line(f.entry.comment or next(iter(f.entry.keys), ""), f.entry.content) for f in fired]
    return lines


def world_brief(world: World | None, prompt: str, max_chars: int = 1500) -> str:
    """``""`` without a world; else the characters and the entries the ``prompt`` triggers,
    one per line (``- Name: description``), at most ``max_chars`` characters."""
    if world is None or not (world.characters or world.entries):
        return ""
    out: list[str] = []
    size = 0
    for line in _lines(world, prompt, max_chars):
        if size + len(line) + 1 > max_chars:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
