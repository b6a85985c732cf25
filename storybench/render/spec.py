"""What every image backend receives and returns.

A :class:`RenderSpec` carries the assembled prompt, negative prompt, seed and size
(pixels) plus the panel's structured fields for backends that draw from them (the
storyboard renderer). A backend returns a :class:`RenderResult`: PNG bytes and
measurements. :meth:`RenderSpec.cache_key` is the content address the batch engine
caches by.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CastMember", "RenderResult", "RenderSpec"]


class CastMember(BaseModel):
    """A character as a backend sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    appearance: str = ""
    clothing: str = ""
    seed: int = 0
    speaks: bool = False


class RenderSpec(BaseModel):
    """One image to render.

    Attributes:
        prompt: positive prompt, English.
        negative_prompt: what to avoid.
        seed: sampler seed, ``0..2**31-1``.
        width: image width in pixels (a multiple of 8).
        height: image height in pixels (a multiple of 8).
        style: style id (see ``storybench.plan.styles``).
        panel_id: the plan's panel id, or a story segment id; ``""`` when free-standing.
        camera, action, location, mood: the panel's structured fields.
        cast: the characters in the shot, in plan order.
        params: extra render parameters (steps, cfg, workflow name, ...); part of the cache key.
        reference_images: paths of reference images (character sheets) for reference-capable
            backends; their content hashes belong in ``params`` when they should key the cache.
    """

    model_config = ConfigDict(frozen=True)

    prompt: str
    negative_prompt: str = ""
    seed: int = Field(ge=0, le=2**31 - 1)
    width: int = Field(ge=64, le=8192)
    height: int = Field(ge=64, le=8192)
    style: str = "noir"
    panel_id: str = ""
    camera: str = ""
    action: str = ""
    location: str = ""
    mood: str = ""
    cast: tuple[CastMember, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    reference_images: tuple[str, ...] = ()

    def cache_key(self, backend: str, backend_version: str, **extra: Any) -> str:
        """Content address of this render: hex SHA-256 over the backend, its version
        (renderer version or workflow hash), prompt, negative prompt, seed, size, the
        structured fields and ``params``. Equal keys mean an equal image is expected."""
        payload = {
            "backend": backend,
            "version": backend_version,
            "spec": self.model_dump(mode="json", exclude={"panel_id", "reference_images"}),
            "extra": extra,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RenderResult(BaseModel):
    """A rendered image.

    Attributes:
        image: encoded image bytes (PNG unless ``mime`` says otherwise).
        mime: MIME type of ``image``.
        width, height: decoded size in pixels.
        metrics: backend measurements for the catalog, e.g. ``queue_seconds``,
            ``execution_seconds``, ``vram_free_before``, ``delay_time_ms``, ``cost``.
    """

    model_config = ConfigDict(frozen=True)

    image: bytes
    mime: str = "image/png"
    width: int
    height: int
    metrics: dict[str, Any] = Field(default_factory=dict)
