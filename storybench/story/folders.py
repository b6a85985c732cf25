"""Where a story lives on disk, and saving without ever writing over another story.

Each story has its own folder under the output root, named from its title and the
start of its id so a writer finds it by name and two stories never share one::

    <output_root>/the-lighthouse-keeper-3f9a/story.json
    <output_root>/the-lighthouse-keeper-3f9a/images/<segment_id>.png

:func:`check_target` tells whether a ``story.json`` path may be written by a story:
a missing file, a file of the same story (same ``id``) or an unreadable/foreign file
the caller chose to overwrite. Saving onto a file that holds *another* story raises
:class:`StoryConflict`; the explorer turns that into a question (Overwrite / Save as
new / Cancel). :func:`new_story_path` picks a fresh folder for "Save as new".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from pathlib import Path

from storybench.exceptions import StorybenchError
from storybench.story.model import Story

__all__ = ["StoryConflict", "check_target", "copy_images", "new_story_path", "slugify", "story_folder_name"]

_MAX_SLUG = 48


class StoryConflict(StorybenchError):
    """A save would write over a file holding another story.

    Attributes:
        path: the file.
        other_id: the id of the story in it.
        other_title: its title ("" when unknown).
    """

    def __init__(self, path: Path, other_id: str, other_title: str = "") -> None:
        self.path = path
        self.other_id = other_id
        self.other_title = other_title
        name = f"{other_title!r} ({other_id})" if other_title else other_id
        super().__init__(f"{path} holds another story, {name}")


def slugify(text: str, max_len: int = _MAX_SLUG) -> str:
    """Lower-case words of ``text`` joined by ``-``, safe as a folder name on every OS.

    Letters of any script are kept (``"Старий маяк"`` -> ``"старий-маяк"``); accents
    are dropped from Latin letters; anything else separates words. ``"story"`` when
    nothing is left.
    """
    norm = "".join(_latin_base(ch) for ch in unicodedata.normalize("NFC", text))
    words = re.findall(r"[^\W_]+", norm.casefold())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    return slug or (words[0][:max_len] if words else "story")


def _latin_base(ch: str) -> str:
    """``é`` -> ``e``: a Latin letter without its accents; any other character unchanged
    (``й`` stays ``й``, it is a letter of its own)."""
    base = unicodedata.normalize("NFKD", ch)
    return base[0] if base[0].isascii() and len(base) > 1 else ch


def story_folder_name(story: Story) -> str:
    """``<title slug>-<first 4 characters of the id>``, e.g. ``the-lighthouse-keeper-3f9a``."""
    return f"{slugify(story.title.rstrip('…'))}-{story.id[:4]}"


def _story_identity(path: Path) -> tuple[str, str] | None:
    """``(id, title)`` of the story in ``path``; ``None`` when there is no file."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return ("?", "")  # a file we cannot read: still someone's file
    if not isinstance(data, dict):
        return ("?", "")
    raw = data.get("settings")
    settings: dict[str, object] = raw if isinstance(raw, dict) else {}
    title = str(settings.get("title") or " ".join(str(settings.get("premise", "")).split()[:6]))
    return (str(data.get("id", "?")), title)


def check_target(story: Story, path: str | os.PathLike[str]) -> None:
    """Check that ``story`` may be saved to ``path``.

    Raises:
        StoryConflict: ``path`` holds another story (or a file that is not this story).
    """
    p = Path(path)
    found = _story_identity(p)
    if found is not None and found[0] != story.id:
        raise StoryConflict(p, found[0], found[1])


def new_story_path(story: Story, near: str | os.PathLike[str]) -> Path:
    """A ``story.json`` path in a new folder beside ``near``'s folder, named for ``story``
    (``-2``, ``-3``... appended until the folder is free or holds this story)."""
    parent = Path(near).parent.parent
    base = story_folder_name(story)
    n = 1
    while True:
        folder = parent / (base if n == 1 else f"{base}-{n}")
        target = folder / "story.json"
        found = _story_identity(target)
        if found is None or found[0] == story.id:
            return target
        n += 1


def copy_images(story: Story, src_dir: Path, dst_dir: Path) -> int:
    """Copy the rendered illustrations of ``story`` from ``src_dir`` to ``dst_dir``.

    Returns:
        How many files were copied (0 when the folders are the same).
    """
    if src_dir.resolve() == dst_dir.resolve():
        return 0
    copied = 0
    for seg in story.segments.values():
        if not seg.image_path:
            continue
        src = src_dir / seg.image_path
        if src.is_file():
            dst = dst_dir / seg.image_path
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            copied += 1
    return copied
