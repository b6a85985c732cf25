"""Character sheets of a story's world characters, as references for its illustrations.

When the image backend honours reference images (``supports_reference_images``), a
segment's illustration carries the sheets of the world's characters it names
(:func:`~storybench.world.characters.characters_in`, at most the backend's
``max_reference_images``), so they look the same from segment to segment. A sheet is
rendered once per character, the first time it is needed, into
``<story_dir>/images/characters/<name slug>-<hash>.png`` (the same prompt shape as the batch
engine's sheets, :func:`storybench.batch.references.character_sheet_spec`: "character
reference sheet, <style prefix>, <name>: <description>, front and side views, neutral
background"), with a seed from the story id and the name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from storybench.files import atomic_write_bytes
from storybench.plan.ids import slugify
from storybench.plan.models import derive_seed
from storybench.plan.styles import get_style
from storybench.render.base import ImageBackend
from storybench.render.spec import CastMember, RenderSpec
from storybench.story.model import Story
from storybench.world.characters import characters_in
from storybench.world.model import Character

__all__ = ["SHEET_SIZE", "reference_sheets", "sheet_path", "story_sheet_spec"]

#: Width and height of a story character's sheet, pixels.
SHEET_SIZE = 768


def _slug(character: Character) -> str:
    digest = hashlib.sha1(character.name.encode("utf-8")).hexdigest()[:6]  # names in any script stay apart
    return f"{slugify(character.name, fallback='character', limit=32)}-{digest}"


def sheet_path(story_dir: Path, character: Character) -> Path:
    """Where ``character``'s sheet is kept: ``<story_dir>/images/characters/<name slug>-<hash>.png``."""
    return story_dir / "images" / "characters" / f"{_slug(character)}.png"


def story_sheet_spec(story: Story, character: Character) -> RenderSpec:
    """The render spec of a world character's reference sheet (see the module doc).

    Raises:
        KeyError: the story's style is unknown.
    """
    style = get_style(story.settings.style)
    look = " ".join(character.description.split())[:400].rstrip(".,; ")
    who = f"{character.name}: {look}" if look else character.name
    seed = derive_seed("story-sheet", story.id, _slug(character))
    parts = ("character reference sheet", style.prompt_prefix, who, "front and side views", "neutral background")
    return RenderSpec(
        prompt=", ".join(p for p in parts if p),
        negative_prompt=style.negative_prompt,
        seed=seed,
        width=SHEET_SIZE,
        height=SHEET_SIZE,
        style=story.settings.style,
        panel_id="",
        action="character reference sheet, front and side views",
        cast=(CastMember(id=_slug(character), name=character.name, appearance=look, seed=seed),),
        params={"kind": "character_sheet"},
    )


def reference_sheets(story: Story, story_dir: Path, backend: ImageBackend, text: str) -> tuple[str, ...]:
    """The sheets (absolute paths) of the world characters ``text`` names, rendered when
    missing; ``()`` when the backend takes no references or the story has no characters.

    Raises:
        BackendError: a sheet failed to render.
    """
    if story.world is None or not backend.supports_reference_images:
        return ()
    named = characters_in(story.world, text)[: max(backend.max_reference_images, 0)]
    paths = []
    for character in named:
        path = sheet_path(story_dir, character)
        if not path.is_file():
            atomic_write_bytes(path, backend.render(story_sheet_spec(story, character)).image)
        paths.append(str(path))
    return tuple(paths)
