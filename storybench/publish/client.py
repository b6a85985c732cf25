"""The gRPC client of the platform's three services (seed 003): characters, media, posts.

Protocol routes live here; the publishing policy (what to create, when, in which
order) lives in :mod:`storybench.publish.publisher`.

Settings come from the environment (:class:`storybench.config.EnvSettings`):

* ``STORYBENCH_PUBLISH_TARGET``: the platform's address. ``grpcs://host:port`` uses
  TLS, ``grpc://host:port`` does not; a bare ``host:port`` uses TLS when
  ``STORYBENCH_PUBLISH_TLS`` is true. ``STORYBENCH_PUBLISH_CA_FILE`` names a PEM file
  of root certificates for TLS (default: the system's).
* ``STORYBENCH_PUBLISH_TIMEOUT_SECONDS``: deadline of each call (default 30 s).
* ``STORYBENCH_PUBLISH_TOKEN`` (a secret, read from the environment only, never a
  field or a parameter): sent on every call as ``authorization: Bearer <token>`` metadata.

Every call goes through :func:`storybench.publish.retry.call_rpc`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc

from storybench.config import env_settings
from storybench.exceptions import ConfigError
from storybench.publish.proto import (
    character_pb2,
    character_pb2_grpc,
    media_pb2,
    media_pb2_grpc,
    post_pb2,
    post_pb2_grpc,
)
from storybench.publish.retry import RetryPolicy, call_rpc

__all__ = ["TOKEN_ENV", "PlatformClient", "Target", "parse_target"]

TOKEN_ENV = "STORYBENCH_PUBLISH_TOKEN"


@dataclass(frozen=True)
class Target:
    """A parsed platform address: ``address`` is ``host:port``, ``secure`` means TLS."""

    address: str
    secure: bool

    @property
    def label(self) -> str:
        """The address as shown in messages and the ledger: ``grpcs://host:port`` (never credentials)."""
        return f"{'grpcs' if self.secure else 'grpc'}://{self.address}"


def parse_target(target: str, *, tls: bool = False) -> Target:
    """Parse a platform address.

    Args:
        target: ``grpcs://host:port`` (TLS), ``grpc://host:port`` (plain) or ``host:port``.
        tls: TLS for a bare ``host:port``.

    Raises:
        ConfigError: empty, an unknown scheme, user info in the address, or no port.
    """
    text = target.strip()
    if not text:
        raise ConfigError("STORYBENCH_PUBLISH_TARGET is not set: give the platform address, e.g. grpcs://host:443")
    if "://" not in text:
        text = f"{'grpcs' if tls else 'grpc'}://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("grpc", "grpcs"):
        raise ConfigError(f"publish target: unknown scheme {parts.scheme!r}; use grpc:// or grpcs://")
    if parts.username or parts.password:
        raise ConfigError("publish target: no credentials in the address; the token goes in STORYBENCH_PUBLISH_TOKEN")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"publish target: bad port in {parts.netloc!r}") from exc
    if not parts.hostname or port is None:
        raise ConfigError(f"publish target {parts.netloc!r}: expected host:port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return Target(address=f"{host}:{port}", secure=parts.scheme == "grpcs")


class PlatformClient:
    """The three services of the platform over one gRPC channel.

    Args:
        target: the address (see :func:`parse_target`); default ``STORYBENCH_PUBLISH_TARGET``.
        tls: TLS for a bare ``host:port``; default ``STORYBENCH_PUBLISH_TLS``.
        timeout_seconds: deadline of each call; default ``STORYBENCH_PUBLISH_TIMEOUT_SECONDS``.
        policy: the retry policy.
        channel: a ready channel (tests); the target is then only a label.

    The bearer token is read from ``STORYBENCH_PUBLISH_TOKEN`` here and kept private;
    it is not shown by ``repr`` and never written anywhere.

    Raises:
        ConfigError: the target is missing or malformed, or the CA file cannot be read.
    """

    name = "generia"

    def __init__(
        self,
        target: str | None = None,
        *,
        tls: bool | None = None,
        timeout_seconds: float | None = None,
        policy: RetryPolicy | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        settings = env_settings()
        address = target if target is not None else settings.publish_target
        self.target = parse_target(address, tls=settings.publish_tls if tls is None else tls)
        self.timeout_seconds = timeout_seconds if timeout_seconds is not None else settings.publish_timeout_seconds
        self.policy = policy or RetryPolicy()
        token = os.environ.get(TOKEN_ENV, "").strip()
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel = channel or self._open(settings.publish_ca_file)
        self._characters = character_pb2_grpc.CharacterServiceStub(self._channel)
        self._media = media_pb2_grpc.MediaServiceStub(self._channel)
        self._posts = post_pb2_grpc.PostServiceStub(self._channel)

    def _open(self, ca_file: str) -> grpc.Channel:
        if not self.target.secure:
            return grpc.insecure_channel(self.target.address)
        roots = None
        if ca_file:
            try:
                with open(ca_file, "rb") as fh:
                    roots = fh.read()
            except OSError as exc:
                raise ConfigError(f"STORYBENCH_PUBLISH_CA_FILE: cannot read {ca_file}: {exc}") from exc
        return grpc.secure_channel(self.target.address, grpc.ssl_channel_credentials(root_certificates=roots))

    @property
    def label(self) -> str:
        """The platform address as shown in messages and the ledger (``grpc://host:port``)."""
        return self.target.label

    def __repr__(self) -> str:
        return f"PlatformClient({self.target.label!r})"

    def _call(self, step: str, obj: str, method: Any, request: Any) -> Any:
        return call_rpc(
            self.policy,
            step,
            obj,
            lambda: method(request, timeout=self.timeout_seconds, metadata=self._metadata),
        )

    # -- CharacterService ------------------------------------------------------
    def create_character(
        self, world_id: str, display_name: str, *, avatar_media_id: str = "", meta: str = "", obj: str = ""
    ) -> character_pb2.Character:
        """``CharacterService.CreateCharacter`` for an AI character (no ``real_user_id``).

        Raises:
            PublishRejected, PublishError: see :func:`~storybench.publish.retry.call_rpc`.
        """
        request = character_pb2.CreateCharacterRequest(world_id=world_id, display_name=display_name)
        if avatar_media_id:
            request.avatar_media_id = avatar_media_id
        if meta:
            request.meta = meta
        return self._call("CreateCharacter", obj or display_name, self._characters.CreateCharacter, request)

    def get_character(self, character_id: str, *, obj: str = "") -> character_pb2.Character:
        """``CharacterService.GetCharacter``."""
        request = character_pb2.GetCharacterRequest(character_id=character_id)
        return self._call("GetCharacter", obj or character_id, self._characters.GetCharacter, request)

    def ai_characters(self, world_id: str, *, obj: str = "") -> list[character_pb2.Character]:
        """The world's AI characters: ``GetUserCharactersInWorld`` with an empty ``user_id``."""
        request = character_pb2.GetUserCharactersInWorldRequest(user_id="", world_id=world_id)
        answer = self._call(
            "GetUserCharactersInWorld", obj or f"world {world_id}", self._characters.GetUserCharactersInWorld, request
        )
        return list(answer.characters)

    # -- MediaService ------------------------------------------------------------
    def presigned_upload_url(
        self, *, world_id: str, character_id: str, filename: str, content_type: str, size: int, obj: str = ""
    ) -> media_pb2.GetPresignedUploadURLResponse:
        """``MediaService.GetPresignedUploadURL`` (``size`` in bytes)."""
        request = media_pb2.GetPresignedUploadURLRequest(
            character_id=character_id, world_id=world_id, filename=filename, content_type=content_type, size=size
        )
        return self._call("GetPresignedUploadURL", obj or filename, self._media.GetPresignedUploadURL, request)

    def confirm_upload(self, media_id: str, character_id: str, *, obj: str = "") -> media_pb2.ConfirmUploadResponse:
        """``MediaService.ConfirmUpload``."""
        request = media_pb2.ConfirmUploadRequest(media_id=media_id, character_id=character_id)
        return self._call("ConfirmUpload", obj or media_id, self._media.ConfirmUpload, request)

    # -- PostService -------------------------------------------------------------
    def create_ai_post(
        self, *, world_id: str, character_id: str, media_id: str, caption: str, tags: list[str], obj: str = ""
    ) -> post_pb2.CreatePostResponse:
        """``PostService.CreateAIPost``."""
        request = post_pb2.CreateAIPostRequest(
            character_id=character_id, caption=caption, media_id=media_id, world_id=world_id, tags=tags
        )
        return self._call("CreateAIPost", obj or media_id, self._posts.CreateAIPost, request)

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
