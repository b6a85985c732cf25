"""The gRPC client of the platform's three services: characters, media, posts.

The protocol is the platform's own (sdshorin/generia ``api/proto``, see
:mod:`storybench.publish.proto`); where seed 003 and that source disagree the source
wins: the service names (``generia.character.CharacterService``, ``media.MediaService``,
``post.PostService``; each can be renamed, see :mod:`storybench.publish.settings`),
``ConfirmUpload`` takes only the media id, ``GetPresignedUploadURL`` carries the
media type, and each service answers ``HealthCheck``.

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
  Sending it over plain ``grpc://`` to a host other than this machine logs a warning.

Every call goes through :func:`storybench.publish.retry.call_rpc`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import grpc

from storybench.config import env_settings
from storybench.exceptions import ConfigError, PublishError
from storybench.publish.proto import character_pb2, media_pb2, post_pb2
from storybench.publish.retry import RetryPolicy, call_rpc
from storybench.publish.settings import PublishSettings, publish_settings

__all__ = ["TOKEN_ENV", "PlatformClient", "Target", "is_loopback", "parse_target"]

log = logging.getLogger(__name__)

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

    @property
    def host(self) -> str:
        """The host part, without brackets."""
        return self.address.rsplit(":", 1)[0].strip("[]")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(target: str, *, tls: bool = False) -> Target:
    """Parse a platform address.

    Args:
        target: ``grpcs://host:port`` (TLS), ``grpc://host:port`` (plain) or ``host:port``.
        tls: TLS for a bare ``host:port``.

    Raises:
        ConfigError: empty, an unknown scheme, user info in the address, or no port.
    """
    parts = _split_target(target, tls=tls)
    hostname, port = _target_host_port(parts)
    host = f"[{hostname}]" if ":" in hostname else hostname
    return Target(address=f"{host}:{port}", secure=parts.scheme == "grpcs")


def _split_target(target: str, *, tls: bool) -> SplitResult:
    """Split ``target`` into URL parts, adding the scheme a bare ``host:port`` implies."""
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
    return parts


def _target_host_port(parts: SplitResult) -> tuple[str, int]:
    """The host name and port of a split target; ConfigError when either is missing or bad."""
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"publish target: bad port in {parts.netloc!r}") from exc
    if not parts.hostname or port is None:
        raise ConfigError(f"publish target {parts.netloc!r}: expected host:port")
    return parts.hostname, port


class PlatformClient:
    """The platform's three services over one gRPC channel.

    Args:
        target: the address (see :func:`parse_target`); default ``STORYBENCH_PUBLISH_TARGET``.
        tls: TLS for a bare ``host:port``; default ``STORYBENCH_PUBLISH_TLS``.
        timeout_seconds: deadline of each call; default ``STORYBENCH_PUBLISH_TIMEOUT_SECONDS``.
        policy: the retry policy.
        channel: a ready channel (tests); the target is then only a label.
        settings: the platform's identity and service names; default from the environment.

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
        settings: PublishSettings | None = None,
    ) -> None:
        env = env_settings()
        address = target if target is not None else env.publish_target
        self.target = parse_target(address, tls=env.publish_tls if tls is None else tls)
        self.timeout_seconds = timeout_seconds if timeout_seconds is not None else env.publish_timeout_seconds
        self.policy = policy or RetryPolicy()
        self.settings = settings or publish_settings()
        token = os.environ.get(TOKEN_ENV, "").strip()
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        if token:
            self._warn_clear_text_token()
        self._channel = channel or self._open(env.publish_ca_file)
        s = self.settings
        self.services = {"character": s.character_service, "media": s.media_service, "post": s.post_service}

    def _warn_clear_text_token(self) -> None:
        """Log a warning when the token would travel unencrypted to another machine."""
        if self.target.secure or is_loopback(self.target.host):
            return
        log.warning(
            "the publish token goes in clear text over grpc:// to %s: anyone on the way can read it; "
            "use grpcs://%s (TLS)",
            self.target.host,
            self.target.address,
        )

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
        """The platform address as shown in messages (``grpc://host:port``)."""
        return self.target.label

    @property
    def platform(self) -> str:
        """The deployment's name the ledger is kept for (``STORYBENCH_PUBLISH_PLATFORM``)."""
        return self.settings.platform

    def __repr__(self) -> str:
        return f"PlatformClient({self.target.label!r})"

    def _method(self, service: str, method: str, response: Any) -> Callable[..., Any]:
        return self._channel.unary_unary(
            f"/{self.services[service]}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response.FromString,
        )

    def _call(
        self,
        service: str,
        method: str,
        obj: str,
        request: Any,
        response: Any,
        *,
        creates: bool = False,
        token: bool = True,
    ) -> Any:
        stub = self._method(service, method, response)
        metadata = self._metadata if token else ()
        return call_rpc(
            self.policy,
            method,
            obj,
            lambda: stub(request, timeout=self.timeout_seconds, metadata=metadata),
            creates=creates,
        )

    def _health(self, key: str, name: str) -> Any:
        """One ``HealthCheck``, without the token (a health probe needs none), and with it
        when the platform asks for it."""
        module = {"character": character_pb2, "media": media_pb2, "post": post_pb2}[key]
        obj = f"{name} at {self.label}"
        request, response = module.HealthCheckRequest(), module.HealthCheckResponse
        try:
            return self._call(key, "HealthCheck", obj, request, response, token=False)
        except PublishError as exc:
            if exc.code != "UNAUTHENTICATED" or not self._metadata:
                raise
        return self._call(key, "HealthCheck", obj, request, response)

    # -- every service -----------------------------------------------------------
    def health(self) -> dict[str, str]:
        """``HealthCheck`` of each service; returns ``{service name: "SERVING"}``.

        Raises:
            PublishError: a service is missing (``UNIMPLEMENTED``: no service of that
                name at the address) or answers anything but ``SERVING``; the message
                names the service and the setting that renames it.
        """
        seen: dict[str, str] = {}
        for key, name in self.services.items():
            try:
                answer = self._health(key, name)
            except PublishError as exc:
                if exc.code == "UNIMPLEMENTED":
                    raise PublishError(
                        "HealthCheck",
                        f"{name} at {self.label}",
                        "the platform has no service of that name",
                        code=exc.code,
                        hint=f"the address, or set STORYBENCH_PUBLISH_{key.upper()}_SERVICE to the name "
                        "your platform's .proto declares",
                    ) from exc
                raise
            status = answer.status if isinstance(answer.status, str) else type(answer).Status.Name(answer.status)
            if status != "SERVING":
                raise PublishError("HealthCheck", f"{name} at {self.label}", f"the service is {status or 'UNKNOWN'}")
            seen[name] = status
        return seen

    # -- CharacterService ------------------------------------------------------
    def create_character(
        self, world_id: str, display_name: str, *, avatar_media_id: str = "", meta: str = "", obj: str = ""
    ) -> character_pb2.Character:
        """``CreateCharacter`` for an AI character (no ``real_user_id``); never sent twice.

        Raises:
            OutcomeUnknown: the answer was lost; the character may exist.
            PublishRejected, PublishError: see :func:`~storybench.publish.retry.call_rpc`.
        """
        request = character_pb2.CreateCharacterRequest(world_id=world_id, display_name=display_name)
        if avatar_media_id:
            request.avatar_media_id = avatar_media_id
        if meta:
            request.meta = meta
        return self._call(
            "character", "CreateCharacter", obj or display_name, request, character_pb2.Character, creates=True
        )

    def get_character(self, character_id: str, *, obj: str = "") -> character_pb2.Character | None:
        """``GetCharacter``; ``None`` when the platform has no such character (``NOT_FOUND``)."""
        request = character_pb2.GetCharacterRequest(character_id=character_id)
        try:
            return self._call("character", "GetCharacter", obj or character_id, request, character_pb2.Character)
        except PublishError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise

    # -- MediaService ------------------------------------------------------------
    def presigned_upload_url(
        self,
        *,
        world_id: str,
        character_id: str,
        filename: str,
        content_type: str,
        size: int,
        media_type: int = media_pb2.MEDIA_TYPE_POST_IMAGE,
        obj: str = "",
    ) -> media_pb2.GetPresignedUploadURLResponse:
        """``GetPresignedUploadURL`` (``size`` in bytes; ``character_id`` may be empty, as the
        platform's own ai-worker sends it for media made before their character)."""
        request = media_pb2.GetPresignedUploadURLRequest(
            world_id=world_id,
            character_id=character_id,
            filename=filename,
            content_type=content_type,
            size=size,
            media_type=media_pb2.MediaType.Name(media_type),
        )
        return self._call(
            "media", "GetPresignedUploadURL", obj or filename, request, media_pb2.GetPresignedUploadURLResponse
        )

    def confirm_upload(self, media_id: str, *, obj: str = "") -> media_pb2.ConfirmUploadResponse:
        """``ConfirmUpload``: the platform checks that the object is in its store."""
        request = media_pb2.ConfirmUploadRequest(media_id=media_id)
        return self._call("media", "ConfirmUpload", obj or media_id, request, media_pb2.ConfirmUploadResponse)

    # -- PostService -------------------------------------------------------------
    def create_ai_post(
        self, *, world_id: str, character_id: str, media_id: str, caption: str, tags: list[str], obj: str = ""
    ) -> post_pb2.CreatePostResponse:
        """``CreateAIPost``; never sent twice.

        Raises:
            OutcomeUnknown: the answer was lost; the post may exist (see :meth:`find_post`).
            PublishRejected, PublishError: see :func:`~storybench.publish.retry.call_rpc`.
        """
        request = post_pb2.CreateAIPostRequest(
            character_id=character_id, caption=caption, media_id=media_id, world_id=world_id, tags=tags
        )
        return self._call("post", "CreateAIPost", obj or media_id, request, post_pb2.CreatePostResponse, creates=True)

    def find_post(self, *, world_id: str, character_id: str, media_id: str, obj: str = "") -> str:
        """The id of the character's post showing ``media_id``, or ``""``.

        Pages through ``GetCharacterPosts`` (50 a page). A post carries no media id,
        only ``media_url``, a URL the platform signs for the media object; its path
        holds the media id (the object name is ``<world>/<character>/posts/<media id>.<ext>``
        or a variant ``<character>/<media id>_<variant>.<ext>``), so a post matches when a
        segment of that path starts with the media id.
        """
        offset, limit = 0, 50
        while True:
            request = post_pb2.GetCharacterPostsRequest(
                character_id=character_id, world_id=world_id, limit=limit, offset=offset
            )
            page = self._call("post", "GetCharacterPosts", obj or media_id, request, post_pb2.PostList)
            for post in page.posts:
                segments = urlsplit(post.media_url).path.split("/")
                if any(seg.startswith(media_id) for seg in segments if seg):
                    return str(post.post_id)
            offset += len(page.posts)
            if not page.posts or offset >= page.total:
                return ""

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
