"""What a publish creates, read from a rendered comic run or a played story.

A :class:`PublishPlan` lists the AI characters (each with the source of its avatar)
and the posts (each with its image, poster, caption source and tags). It is pure
data: nothing is rendered, uploaded or asked of an LLM here, so a dry run prints it.

* **Comic run** (a folder with ``run.json``, see :mod:`storybench.batch.runs`): the
  plan is read from the manifest's ``plan_path`` (or ``plan=``) and must have the
  run's ``plan_sha256``. Every plan character becomes a character; its avatar is the
  first cell of its sheet ``characters/<id>.png`` when the run has one, else a
  portrait rendered with the run's backend. Every page in ``pages/`` (or the
  ``pages=`` subset) becomes a post by the character with the most dialogue on it
  (characters of text; ties go to the one who speaks first), else the narrator
  (a character whose role names a narrator, else the plan's first character).
* **Story** (a folder with ``story.json``, or the file): the protagonist becomes the
  one character (display name: the story's title) and every illustrated segment, in
  reading order of the graph (depth first), becomes a post; ``pages=`` counts them from 1.

Keys: ``character:<id>``, ``media:avatar-<id>``, ``post:page-003`` /
``post:segment-s004``; in the ledger a post and its image are keyed by content too
(``post:page-003#<16 hex of the image's sha256>``, ``media:page-003#...``), so a
re-render with the same pages maps onto what was published and a changed page does not.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from storybench.batch.runs import RUN_MANIFEST, read_manifest
from storybench.exceptions import ConfigError
from storybench.plan.loading import load_plan
from storybench.plan.models import ComicPlan, Page
from storybench.story.model import load_story

__all__ = ["AvatarSource", "CharacterItem", "PostItem", "PublishPlan", "plan_publication", "publish_key"]

_NARRATOR_ROLES = ("narrator", "оповідач", "рассказчик", "narrador", "erzähler", "narrateur")


@dataclass(frozen=True)
class AvatarSource:
    """Where a character's avatar comes from.

    Attributes:
        sheet: the character sheet whose first cell is the avatar, when there is one.
        out_path: where the avatar PNG is kept (written once, reused by reruns).
        backend: the image backend name that renders a portrait when there is no sheet.
        prompt, appearance, clothing, seed, style, name, character_id: portrait inputs.
    """

    out_path: Path
    backend: str
    character_id: str
    name: str
    style: str
    seed: int
    appearance: str = ""
    clothing: str = ""
    prompt: str = ""
    sheet: Path | None = None


@dataclass(frozen=True)
class CharacterItem:
    """One AI character to create: ``meta`` becomes the ``meta`` JSON of ``CreateCharacter``."""

    key: str
    source_id: str
    display_name: str
    meta: dict[str, Any]
    avatar: AvatarSource

    @property
    def media_key(self) -> str:
        """The ledger key of the avatar."""
        return f"media:avatar-{self.source_id}"


@dataclass(frozen=True)
class PostItem:
    """One post: image file, poster (a character key), caption inputs and tags.

    Attributes:
        key: ``post:page-003`` or ``post:segment-s004``.
        label: ``page 3`` or ``segment s004`` (for messages).
        number: the page number, or the segment's 1-based place in reading order.
        image: the image file.
        content_type: its MIME type.
        character: the poster's character key.
        narrative: the plain narrative text (the caption fallback).
        dialogue: ``"Name: line"`` strings, in reading order.
        tags: style, title, language, chapter.
        content: the sha256 (hex) of the image file, ``""`` when not known.
    """

    key: str
    label: str
    number: int
    image: Path
    content_type: str
    character: str
    narrative: str
    dialogue: tuple[str, ...]
    tags: tuple[str, ...]
    content: str = ""

    @property
    def record_key(self) -> str:
        """The ledger key of the post: its key and its image's content."""
        return f"{self.key}#{self.content[:16]}" if self.content else self.key

    @property
    def media_key(self) -> str:
        """The ledger key of the post's image (by content, like :attr:`record_key`)."""
        return "media:" + self.record_key.split(":", 1)[1]


@dataclass
class PublishPlan:
    """Everything a publish of one source creates.

    Attributes:
        kind: ``"run"`` or ``"story"``.
        folder: the run or story folder (the ledger goes in ``folder/publish/``).
        catalog_dir: the output folder whose ``catalog.parquet`` gets the publish rows.
        source_id: the plan id or story id; run_id: the run id (the story id for a story).
        title, style, language: of the comic or story.
    """

    kind: Literal["run", "story"]
    folder: Path
    catalog_dir: Path
    source_id: str
    run_id: str
    title: str
    style: str
    language: str
    characters: list[CharacterItem] = field(default_factory=list)
    posts: list[PostItem] = field(default_factory=list)

    def character(self, key: str) -> CharacterItem:
        """The character item with that key.

        Raises:
            KeyError: no such character.
        """
        for item in self.characters:
            if item.key == key:
                return item
        raise KeyError(key)


def _tags(*parts: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in parts:
        text = " ".join(part.split())[:100]
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def publish_key(*parts: str) -> str:
    """A stable key identifying one created object across reruns (hex, 24 digits)."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:24]


def _pick_pages(numbers: list[int], pages: Sequence[int] | None, what: str) -> set[int]:
    if not pages:
        return set(numbers)
    unknown = sorted(set(pages) - set(numbers))
    if unknown:
        raise ConfigError(f"--pages: no {what} {', '.join(map(str, unknown))} (there are {what}s {numbers})")
    return set(pages)


def _speaker(plan: ComicPlan, page: Page, narrator: str) -> str:
    spoken: dict[str, list[int]] = {}
    order = 0
    for panel in sorted(page.panels, key=lambda p: p.position):
        for line in panel.dialogue:
            entry = spoken.setdefault(line.character, [0, order])
            entry[0] += len(line.text)
            order += 1
    if not spoken:
        return narrator
    return min(spoken.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]


def _plan_for_run(run_dir: Path, manifest: dict[str, Any], plan: ComicPlan | str | None) -> ComicPlan:
    if isinstance(plan, ComicPlan):
        loaded = plan
    else:
        path = plan or manifest.get("plan_path")
        if not path:
            raise ConfigError(f"{run_dir / RUN_MANIFEST}: no plan_path; give the plan file (--plan)")
        if not Path(path).is_file():
            raise ConfigError(f"{run_dir / RUN_MANIFEST}: plan file {path} is gone; give the plan file (--plan)")
        loaded = load_plan(path)
    if manifest.get("plan_sha256") and loaded.sha256() != manifest["plan_sha256"]:
        raise ConfigError(
            f"{run_dir}: the plan {loaded.id!r} changed since this run was rendered (plan_sha256 differs); "
            "render it again or give the plan the run was made from (--plan)"
        )
    return loaded


def _narrator(comic: ComicPlan) -> str:
    """The character posting pages nobody speaks on: a narrator by role, else the first character."""
    return next(
        (c.id for c in comic.characters if any(r in c.role.lower() for r in _NARRATOR_ROLES)),
        comic.characters[0].id if comic.characters else "",
    )


def _run_characters(run_dir: Path, comic: ComicPlan, backend: str) -> list[CharacterItem]:
    out: list[CharacterItem] = []
    for c in comic.characters:
        sheet = run_dir / "characters" / f"{c.id}.png"
        avatar = AvatarSource(
            out_path=run_dir / "publish" / "avatars" / f"{c.id}.png",
            backend=backend,
            character_id=c.id,
            name=c.name,
            style=comic.style,
            seed=c.seed or 0,
            appearance=c.appearance,
            clothing=c.clothing,
            sheet=sheet if sheet.is_file() else None,
        )
        meta = {
            "appearance": c.appearance,
            "clothing": c.clothing,
            "role": c.role,
            "seed": c.seed,
            "plan_id": comic.id,
            "style": comic.style,
            "source": "storybench",
        }
        out.append(CharacterItem(f"character:{c.id}", c.id, c.name, meta, avatar))
    return out


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _page_post(run_dir: Path, comic: ComicPlan, chapter_title: str, page: Page, narrator: str) -> PostItem:
    image = run_dir / "pages" / f"page-{page.page_number:03d}.png"
    if not image.is_file():
        raise ConfigError(f"{run_dir}: page {page.page_number} has no image ({image.name}); finish the render first")
    names = {c.id: c.name for c in comic.characters}
    panels = sorted(page.panels, key=lambda p: p.position)
    narrative = " ".join(p.narrative.strip() for p in panels if p.narrative and p.narrative.strip())
    dialogue = tuple(f"{names.get(d.character, d.character)}: {d.text}" for p in panels for d in p.dialogue)
    return PostItem(
        key=f"post:page-{page.page_number:03d}",
        label=f"page {page.page_number}",
        number=page.page_number,
        image=image,
        content_type=_content_type(image),
        character=f"character:{_speaker(comic, page, narrator)}",
        narrative=narrative,
        dialogue=dialogue,
        tags=_tags(comic.style, comic.title, comic.language, chapter_title),
        content=_file_sha256(image),
    )


def _run_plan(run_dir: Path, pages: Sequence[int] | None, plan: ComicPlan | str | None) -> PublishPlan:
    manifest = read_manifest(run_dir) or {}
    comic = _plan_for_run(run_dir, manifest, plan)
    backend = str(manifest.get("backend") or "storyboard")
    out = PublishPlan(
        kind="run",
        folder=run_dir,
        catalog_dir=run_dir.parent.parent,
        source_id=comic.id,
        run_id=str(manifest.get("run_id") or run_dir.name),
        title=comic.title,
        style=comic.style,
        language=comic.language,
        characters=_run_characters(run_dir, comic, backend),
    )
    narrator = _narrator(comic)
    chosen = _pick_pages([p.page_number for _, p in comic.pages()], pages, "page")
    out.posts = [
        _page_post(run_dir, comic, chapter.title, page, narrator)
        for chapter, page in comic.pages()
        if page.page_number in chosen
    ]
    return out


def _story_plan(story_file: Path, pages: Sequence[int] | None, image_backend: str) -> PublishPlan:
    story = load_story(story_file)
    folder = story_file.parent
    catalog_dir = folder.parent.parent if folder.parent.name == "stories" else folder
    out = PublishPlan(
        kind="story",
        folder=folder,
        catalog_dir=catalog_dir,
        source_id=story.id,
        run_id=story.id,
        title=story.title,
        style=story.settings.style,
        language=story.settings.language,
    )
    illustrated = [seg for _, seg in story.walk() if seg.image_status == "done" and seg.image_path]
    first_prompt = next((s.illustration_prompt for s in illustrated if s.illustration_prompt), "")
    hero = "protagonist"
    avatar = AvatarSource(
        out_path=folder / "publish" / "avatars" / f"{hero}.png",
        backend=image_backend,
        character_id=hero,
        name=story.title,
        style=story.settings.style,
        seed=int(publish_key("story", story.id, hero)[:7], 16),
        appearance=first_prompt,
        prompt=first_prompt,
    )
    meta = {
        "appearance": first_prompt,
        "clothing": "",
        "role": "protagonist",
        "seed": avatar.seed,
        "story_id": story.id,
        "premise": story.settings.premise[:1000],
        "style": story.settings.style,
        "source": "storybench",
    }
    out.characters.append(CharacterItem(f"character:{hero}", hero, story.title, meta, avatar))
    chosen = _pick_pages(list(range(1, len(illustrated) + 1)), pages, "segment")
    for number, seg in enumerate(illustrated, 1):
        if number not in chosen:
            continue
        image = folder / seg.image_path
        if not image.is_file():
            raise ConfigError(f"{story_file}: segment {seg.id} image {seg.image_path} is missing")
        out.posts.append(
            PostItem(
                key=f"post:segment-{seg.id}",
                label=f"segment {seg.id}",
                number=number,
                image=image,
                content_type=_content_type(image),
                character=f"character:{hero}",
                narrative=seg.text.strip(),
                dialogue=(),
                tags=_tags(
                    story.settings.style, story.title, story.settings.language, f"chapter {story.chapter(seg.id)}"
                ),
                content=_file_sha256(image),
            )
        )
    return out


def plan_publication(
    source: str | os.PathLike[str],
    *,
    pages: Sequence[int] | None = None,
    plan: ComicPlan | str | None = None,
    image_backend: str = "storyboard",
) -> PublishPlan:
    """What publishing ``source`` creates.

    Args:
        source: a run folder (with ``run.json``), a story folder (with ``story.json``)
            or a story file.
        pages: page numbers of a run, or 1-based places of illustrated story segments;
            ``None`` or empty for all.
        plan: the comic plan (object or file) of a run whose ``run.json`` lost it.
        image_backend: the backend rendering a story's protagonist portrait.

    Raises:
        ConfigError: not a run or story; unknown pages; a page image missing; the plan changed.
        PlanValidationError, StoryFormatError: the plan or story cannot be read.
    """
    path = Path(source)
    if path.is_file() and path.suffix == ".json":
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not readable JSON: {exc}") from exc
        if isinstance(head, dict) and head.get("format") == "storybench.story":
            return _story_plan(path, pages, image_backend)
        if path.name == RUN_MANIFEST:
            return _run_plan(path.parent, pages, plan)
        raise ConfigError(f"{path}: neither a story file nor a run's {RUN_MANIFEST}")
    if (path / RUN_MANIFEST).is_file():
        return _run_plan(path, pages, plan)
    if (path / "story.json").is_file():
        return _story_plan(path / "story.json", pages, image_backend)
    raise ConfigError(f"{path}: not a run folder (no {RUN_MANIFEST}) nor a story folder (no story.json)")
