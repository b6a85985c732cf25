"""The image backend interface and its registry.

A backend does the work for one render at a time: :meth:`ImageBackend.render`
takes a :class:`~storybench.render.spec.RenderSpec` and returns a
:class:`~storybench.render.spec.RenderResult`. Everything around it — status,
retries, caching, timing, the catalog — belongs to the batch engine. Backends are
thread-safe: the engine calls ``render`` from up to ``concurrency`` threads at once.

Built-in backends are registered by name (``storyboard``, ``comfyui``, ``runpod``,
``runware``); third-party ones are found through the ``storybench.image_backends``
entry-point group (``name = "package.module:BackendClass"``).

Errors: a backend raises :class:`~storybench.exceptions.TransientBackendError`
for failures worth retrying and :class:`~storybench.exceptions.PermanentBackendError`
for the rest; anything else is treated as permanent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from storybench.registry import Extra, Registry
from storybench.render.spec import RenderResult, RenderSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "IMAGE_BACKENDS",
    "ImageBackend",
    "get_image_backend",
    "image_backend_names",
    "register_image_backend",
]

ENTRY_POINT_GROUP = "storybench.image_backends"


class ImageBackend(ABC):
    """Base class of image backends.

    Class attributes:
        name: registered name.
        version: renderer version; part of every cache key, so bump it when output changes.

    Attributes:
        default_concurrency: how many renders the engine should run at once when the run
            does not say; the class gives the default, an instance may refine it from its
            options or the server (a ComfyUI queue depth, a RunPod endpoint's workers).
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    default_concurrency: int = 1

    @property
    def supports_reference_images(self) -> bool:
        """Whether :attr:`RenderSpec.reference_images <storybench.render.spec.RenderSpec.reference_images>`
        is honoured, so the batch engine renders character sheets first and passes them
        as references to the panels. ``False`` unless a backend says otherwise."""
        return False

    @property
    def max_reference_images(self) -> int:
        """The most reference images a panel's spec carries: the sheets of the characters in
        the panel, speakers first (1 unless the backend's workflow takes several)."""
        return 1

    def cache_identity(self, spec: RenderSpec) -> str:
        """What identifies this backend's output for ``spec`` besides the spec itself
        (e.g. a workflow's hash); goes into the cache key. Default: :attr:`version`."""
        return self.version

    def run_identity(self) -> dict[str, Any]:
        """The backend's non-secret options that shape a run's output (workflow, server URLs,
        model...): part of the resume key, so a render with other options starts a new run
        (its panels still come from the cache where their keys match). Default: ``{}``."""
        return {}

    @property
    def status_text(self) -> str:
        """A one-line state to show beside the progress bar (e.g. ``waiting for ComfyUI at
        URL (down 23 s)``); ``""`` when there is nothing to say."""
        return ""

    def preflight(self, specs: Sequence[RenderSpec]) -> dict[str, Any]:
        """Check, before a batch, that the backend can render these specs (server up,
        models installed). Returns measurements for the run log.

        Raises:
            BackendError: the batch cannot succeed; the message says what is missing.
        """
        return {}

    @abstractmethod
    def render(self, spec: RenderSpec) -> RenderResult:
        """Render one image.

        Raises:
            TransientBackendError: worth retrying.
            PermanentBackendError: retrying cannot help.
            Cancelled: :meth:`cancel` was called.
        """

    def cancel(self) -> None:  # noqa: B027  # optional hook: the default has nothing to stop
        """Ask running and queued renders to stop (best effort)."""

    def close(self) -> None:  # noqa: B027  # optional hook: the default has nothing to release
        """Release connections and other resources."""

    def __enter__(self) -> ImageBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_BUILTIN: dict[str, str] = {
    "storyboard": "storybench.render.storyboard:StoryboardBackend",
    "comfyui": "storybench.render.comfyui:ComfyUIBackend",
    "runpod": "storybench.render.runpod:RunPodBackend",
    "runware": "storybench.render.runware:RunwareBackend",
}
IMAGE_BACKENDS: Registry[ImageBackend] = Registry(
    "image", ENTRY_POINT_GROUP, _BUILTIN, {"runware": Extra("runware", (("runware", "runware"),))}
)


def register_image_backend(name: str, factory: Callable[..., ImageBackend] | str) -> None:
    """Register a backend class (or ``"module:Class"`` path) under ``name``."""
    IMAGE_BACKENDS.register(name, factory)


def image_backend_names() -> list[str]:
    """Names of every registered backend, sorted."""
    return IMAGE_BACKENDS.names()


def get_image_backend(name: str, **options: Any) -> ImageBackend:
    """Create the backend registered as ``name`` with ``options``.

    Raises:
        UnknownBackendError: no such backend; the message lists the known names.
        MissingDependencyError: the backend's optional extra is not installed.
    """
    return IMAGE_BACKENDS.create(name, **options)
