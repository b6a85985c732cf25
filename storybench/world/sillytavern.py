"""SillyTavern World Info JSON (``{"entries": {"0": {...}}}``) to a :class:`World` and back.

Field names are SillyTavern's (``newWorldInfoEntryDefinition`` in
``public/scripts/world-info.js``); missing fields take its defaults. Every field
storybench does not use (``displayIndex``, ``group``, ``sticky``, ``vectorized``,
…) is kept in the entry's ``extra`` and written back, as are unknown top-level
fields (``originalData``, …) in the world's ``extra``, so
``world_to_sillytavern(world_from_sillytavern(data))`` holds every field of
``data`` with its value (fields SillyTavern would default are written out too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from storybench.world.errors import WorldFormatError, first_error
from storybench.world.model import EntrySource, World, WorldEntry

__all__ = ["entry_from_sillytavern", "entry_to_sillytavern", "world_from_sillytavern", "world_to_sillytavern"]

# SillyTavern field -> WorldEntry field (same meaning, same values)
_SAME: dict[str, str] = {
    "uid": "uid",
    "key": "keys",
    "keysecondary": "secondary_keys",
    "comment": "comment",
    "content": "content",
    "constant": "constant",
    "selective": "selective",
    "selectiveLogic": "selective_logic",
    "order": "order",
    "position": "position",
    "depth": "depth",
    "probability": "probability",
    "useProbability": "use_probability",
    "excludeRecursion": "exclude_recursion",
    "preventRecursion": "prevent_recursion",
    "scanDepth": "scan_depth",
    "caseSensitive": "case_sensitive",
    "matchWholeWords": "match_whole_words",
}
_KNOWN = {*_SAME, "disable"}


def _keys(value: Any) -> Any:
    """SillyTavern accepts a comma-separated string where a key list belongs."""
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    return value


def entry_from_sillytavern(raw: Mapping[str, Any], where: str, uid: int) -> WorldEntry:
    """One SillyTavern entry as a :class:`WorldEntry`.

    Raises:
        WorldFormatError: a field has a value of the wrong kind (names the field).
    """
    if not isinstance(raw, Mapping):
        raise WorldFormatError(where, f"an entry must be a JSON object, not {type(raw).__name__}")
    fields: dict[str, Any] = {ours: raw[theirs] for theirs, ours in _SAME.items() if theirs in raw}
    fields.setdefault("uid", uid)
    for name in ("keys", "secondary_keys"):
        if name in fields:
            fields[name] = _keys(fields[name])
    if "disable" in raw:
        fields["enabled"] = not raw["disable"]
    fields["extra"] = {k: v for k, v in raw.items() if k not in _KNOWN}
    try:
        return WorldEntry(**fields)
    except ValidationError as exc:
        name, message = first_error(exc)
        theirs = next((t for t, o in _SAME.items() if o == name), name)
        raise WorldFormatError(f"{where}.{theirs}", message) from exc


def entry_to_sillytavern(entry: WorldEntry) -> dict[str, Any]:
    """A :class:`WorldEntry` as a SillyTavern entry (its unknown fields included)."""
    out: dict[str, Any] = dict(entry.extra)
    for theirs, ours in _SAME.items():
        value = getattr(entry, ours)
        out[theirs] = int(value) if ours in ("selective_logic", "position") else value
    out["disable"] = not entry.enabled
    return out


def world_from_sillytavern(data: Any, where: str = "", name: str = "") -> World:
    """A SillyTavern World Info document as a :class:`World`.

    Args:
        data: the parsed JSON (``{"entries": {"<uid>": {...}}, ...}``).
        where: the file, for error messages.
        name: the world's name (SillyTavern names a world by its file name).

    Raises:
        WorldFormatError: not a SillyTavern World Info document (one sentence, with where).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("entries"), Mapping):
        raise WorldFormatError(where, 'not a SillyTavern World Info file: no "entries" object')
    entries = [
        entry_from_sillytavern(raw, f"{where}:entries.{key}", int(key) if str(key).isdigit() else index)
        for index, (key, raw) in enumerate(data["entries"].items())
    ]
    uids = [e.uid for e in entries]
    if len(set(uids)) != len(uids):
        raise WorldFormatError(f"{where}:entries", "two entries share one uid")
    extra = {k: v for k, v in data.items() if k != "entries"}
    return World(name=name, entries=entries, source=EntrySource.SILLYTAVERN, extra=extra)


def world_to_sillytavern(world: World) -> dict[str, Any]:
    """A :class:`World` as a SillyTavern World Info document (entries keyed by uid)."""
    out: dict[str, Any] = {"entries": {str(e.uid): entry_to_sillytavern(e) for e in world.entries}}
    out.update(world.extra)
    return out
