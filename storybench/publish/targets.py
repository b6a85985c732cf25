"""Publish targets: the platforms a publish can go to, kept in a registry like the image backends.

A target implements :class:`PublishTarget` (the calls the publisher makes); the
built-in ``generia`` target is :class:`storybench.publish.client.PlatformClient`
(the platform's gRPC services). Others register with :func:`register_publish_target`
or through the ``storybench.publish_targets`` entry-point group
(``name = "package.module:Class"``); the registry is a :class:`storybench.registry.Registry`
like the image and LLM backends'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from storybench.registry import Extra, Registry

__all__ = [
    "PUBLISH_TARGETS",
    "TARGET_ENTRY_POINT_GROUP",
    "PublishTarget",
    "get_publish_target",
    "publish_target_names",
    "register_publish_target",
]

TARGET_ENTRY_POINT_GROUP = "storybench.publish_targets"


@runtime_checkable
class PublishTarget(Protocol):
    """What the publisher needs from a platform (see :class:`~storybench.publish.client.PlatformClient`
    for the meaning of each call; answers are the protocol's messages or objects with the same fields)."""

    name: str

    @property
    def label(self) -> str:
        """The address for messages, without credentials."""
        ...

    @property
    def platform(self) -> str:
        """The deployment's name the ledger is kept for (not its address)."""
        ...

    def health(self) -> dict[str, str]: ...

    def create_character(
        self, world_id: str, display_name: str, *, avatar_media_id: str = "", meta: str = "", obj: str = ""
    ) -> Any: ...

    def get_character(self, character_id: str, *, obj: str = "") -> Any | None: ...

    def presigned_upload_url(
        self,
        *,
        world_id: str,
        character_id: str,
        filename: str,
        content_type: str,
        size: int,
        media_type: int = ...,
        obj: str = "",
    ) -> Any: ...

    def confirm_upload(self, media_id: str, *, obj: str = "") -> Any: ...

    def create_ai_post(
        self, *, world_id: str, character_id: str, media_id: str, caption: str, tags: list[str], obj: str = ""
    ) -> Any: ...

    def find_post(self, *, world_id: str, character_id: str, media_id: str, obj: str = "") -> str: ...

    def close(self) -> None: ...


_BUILTIN: dict[str, str] = {"generia": "storybench.publish.client:PlatformClient"}
PUBLISH_TARGETS: Registry[PublishTarget] = Registry(
    "publish",
    TARGET_ENTRY_POINT_GROUP,
    _BUILTIN,
    {"generia": Extra("publish", (("grpc", "grpcio"), ("google.protobuf", "protobuf")))},
)


def register_publish_target(name: str, factory: Callable[..., PublishTarget] | str) -> None:
    """Register a publish target class (or ``"module:Class"`` path) under ``name``."""
    PUBLISH_TARGETS.register(name, factory)


def publish_target_names() -> list[str]:
    """Names of every registered publish target, sorted."""
    return PUBLISH_TARGETS.names()


def get_publish_target(name: str = "generia", **options: Any) -> PublishTarget:
    """Create the publish target registered as ``name`` with ``options``.

    Raises:
        UnknownBackendError: no such target; the message lists the known names.
        MissingDependencyError: the target's optional extra is not installed.
        ConfigError: the target's settings are unusable (e.g. no address).
    """
    return PUBLISH_TARGETS.create(name, **options)
