"""The saved stories under an output root, listed for the explorer's library.

Every story has its own folder under the root (:mod:`storybench.story.folders`); its
file is ``story.json`` (or another ``.json`` name it was saved as). :func:`list_stories`
reads each story file's header (title, premise, size of the tree) without validating
the whole graph, newest change first; files that are not stories are skipped.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StoryEntry", "list_stories"]


@dataclass(frozen=True)
class StoryEntry:
    """One saved story.

    Attributes:
        path: its file.
        id: its id.
        title: its title (the premise's first six words when it has none).
        premise: its premise.
        updated: when the file last changed (seconds since the epoch).
        segments: how many segments its tree has.
    """

    path: Path
    id: str
    title: str
    premise: str
    updated: float
    segments: int

    def when(self) -> str:
        """The last change as local ``YYYY-MM-DD HH:MM``."""
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.updated))


def _entry(path: Path) -> StoryEntry | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        updated = path.stat().st_mtime
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        return None
    settings, segments = data["settings"], data.get("segments")
    if not isinstance(segments, dict) or not str(settings.get("premise", "")).strip():
        return None
    premise = " ".join(str(settings["premise"]).split())
    words = premise.split()
    title = str(settings.get("title") or "").strip() or " ".join(words[:6]) + ("…" if len(words) > 6 else "")
    return StoryEntry(path, str(data.get("id", "")), title, premise, updated, len(segments))


def list_stories(root: str | os.PathLike[str], *, limit: int = 200) -> list[StoryEntry]:
    """The stories saved in the folders of ``root``, newest change first.

    Args:
        root: the output root holding story folders (a missing folder lists nothing).
        limit: at most this many entries.

    Returns:
        One entry per story file (``<root>/<folder>/*.json``).
    """
    base = Path(root).expanduser()
    if not base.is_dir():
        return []
    entries = [e for p in base.glob("*/*.json") if (e := _entry(p)) is not None]
    entries.sort(key=lambda e: e.updated, reverse=True)
    return entries[:limit]
