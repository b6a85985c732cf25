"""Avatars: a character sheet's first cell, or a portrait rendered by an image backend.

A character sheet (:mod:`storybench.batch.references`) shows the character in cells
side by side, front view first; the avatar is the first cell (the sheet's left half
for a landscape or square sheet, its top half for a portrait sheet) cropped to a
centred square from the top and scaled to :data:`AVATAR_SIZE`. Without a sheet, a
head-and-shoulders portrait is rendered through the backend registry
(:func:`storybench.render.get_image_backend`) with the character's seed.

Avatars are written once, atomically, to ``<folder>/publish/avatars/<id>.png`` and
reused, so a rerun uploads the same bytes.
"""

from __future__ import annotations

import io

from PIL import Image

from storybench.files import atomic_write_bytes
from storybench.plan.styles import get_style
from storybench.publish.planning import AvatarSource
from storybench.render.base import ImageBackend, get_image_backend
from storybench.render.spec import CastMember, RenderSpec

__all__ = ["AVATAR_SIZE", "avatar_bytes", "first_cell", "portrait_spec"]

#: Side of an avatar, pixels.
AVATAR_SIZE = 512


def first_cell(sheet: Image.Image, size: int = AVATAR_SIZE) -> Image.Image:
    """The first cell of a character sheet as a ``size`` x ``size`` RGB image."""
    w, h = sheet.size
    cell = sheet.crop((0, 0, w // 2, h)) if w >= h else sheet.crop((0, 0, w, h // 2))
    cw, ch = cell.size
    side = min(cw, ch)
    left = (cw - side) // 2
    square = cell.crop((left, 0, left + side, side))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def portrait_spec(source: AvatarSource, size: int = AVATAR_SIZE) -> RenderSpec:
    """The render spec of a head-and-shoulders portrait of ``source``'s character.

    Raises:
        KeyError: unknown style.
    """
    style = get_style(source.style)
    who = source.prompt or ", ".join(
        p for p in (source.appearance, source.clothing and f"wearing {source.clothing}") if p
    )
    prompt = ", ".join(p for p in (style.prompt_prefix, f"portrait of {source.name}", who, "head and shoulders") if p)
    member = CastMember(
        id=source.character_id,
        name=source.name,
        appearance=source.appearance,
        clothing=source.clothing,
        seed=source.seed,
    )
    return RenderSpec(
        prompt=prompt,
        negative_prompt=style.negative_prompt,
        seed=source.seed % (2**31),
        width=size,
        height=size,
        style=source.style,
        camera="close-up",
        action=f"portrait of {source.name}",
        cast=(member,),
        params={"kind": "avatar"},
    )


def avatar_bytes(source: AvatarSource, backend: ImageBackend | None = None) -> bytes:
    """The avatar PNG of ``source``, made and kept at ``source.out_path`` on first use.

    Args:
        source: the avatar's source.
        backend: the image backend for a portrait; default ``source.backend`` from the registry.

    Raises:
        BackendError, UnknownBackendError: the portrait could not be rendered.
        OSError: the sheet cannot be read or the avatar cannot be written.
    """
    if source.out_path.is_file():
        return source.out_path.read_bytes()
    if source.sheet is not None:
        with Image.open(source.sheet) as sheet:
            image = first_cell(sheet)
        buf = io.BytesIO()
        image.save(buf, "PNG")
        data = buf.getvalue()
    else:
        own = backend is None
        engine = backend or get_image_backend(source.backend)
        try:
            result = engine.render(portrait_spec(source))
        finally:
            if own:
                engine.close()
        data = result.image
        if result.mime != "image/png":  # avatars are kept as PNG whatever the backend sends
            with Image.open(io.BytesIO(data)) as im:
                buf = io.BytesIO()
                im.convert("RGB").save(buf, "PNG")
                data = buf.getvalue()
    atomic_write_bytes(source.out_path, data)
    return data
