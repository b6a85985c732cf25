"""Ids in a plan: slugs made from titles, ids kept unique, characters found by id or name.

Plan and character ids are file-safe (they name run folders and image files), so a
title becomes a lowercase ASCII slug and a second use of a slug gets ``-2``, ``-3``...
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

__all__ = ["resolve_character", "slugify", "unique_slug"]


def slugify(text: str, fallback: str = "comic", limit: int = 60) -> str:
    """A lowercase ASCII slug (``"Рей & the Rain!"`` → ``"the-rain"``), or ``fallback`` when nothing is left.

    Args:
        text: any text, e.g. a title.
        fallback: returned when no ASCII letter or digit is left.
        limit: most characters of the slug.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:limit].strip("-")
    return slug or fallback


def unique_slug(slug: str, taken: set[str]) -> str:
    """``slug``, or ``slug-2``, ``slug-3``... whichever is not in ``taken``."""
    if slug not in taken:
        return slug
    n = 2
    while f"{slug}-{n}" in taken:
        n += 1
    return f"{slug}-{n}"


def _reference_key(ref: Any) -> str | None:
    """The lower-case text a reference names (a string, or an object's ``id`` or ``name``)."""
    if not isinstance(ref, str):
        d = ref if isinstance(ref, dict) else {}
        ref = d.get("id") or d.get("name")
    return ref.strip().lower() if isinstance(ref, str) else None


def _match_rank(key: str, cid: str, name: str) -> int:
    """How ``key`` names a character: 0 its id, 1 its full name, 2 its first name, -1 not at all."""
    if key == cid.lower():
        return 0
    if key == name.lower():
        return 1
    first = name.lower().split()[0] if name.split() else ""
    return 2 if first and (key == first or key.split()[0:1] == [first]) else -1


def resolve_character(ref: Any, characters: Sequence[tuple[str, str]]) -> str | None:
    """The id of the character ``ref`` names, or ``None``.

    Args:
        ref: an id, a full name or a first name (case-insensitive), or an object with
            an ``id`` or ``name`` key (as a model may answer).
        characters: ``(id, name)`` of every character.
    """
    key = _reference_key(ref)
    if key is None:
        return None
    hits = [(rank, i, cid) for i, (cid, name) in enumerate(characters) if (rank := _match_rank(key, cid, name)) >= 0]
    return min(hits)[2] if hits else None
