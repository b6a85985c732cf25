"""Image backends: the render spec, the backend interface and registry, and the backends."""

from storybench.render.base import (
    ENTRY_POINT_GROUP,
    ImageBackend,
    get_image_backend,
    image_backend_names,
    register_image_backend,
)
from storybench.render.spec import CastMember, RenderResult, RenderSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "CastMember",
    "ImageBackend",
    "RenderResult",
    "RenderSpec",
    "get_image_backend",
    "image_backend_names",
    "register_image_backend",
]
