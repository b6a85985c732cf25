"""Settings of a publish that name the platform: its identity and its services' gRPC names.

Read from the environment (``STORYBENCH_PUBLISH_*``) like :class:`storybench.config.EnvSettings`,
which holds the address, TLS, CA file and deadline settings:

* ``STORYBENCH_PUBLISH_PLATFORM``: the name of the platform *deployment* the ledger is
  kept for (default ``generia``). Two addresses of one deployment share it, so
  publishing through either creates nothing twice; give each deployment its own name
  (``generia-staging``, ``generia-prod``) when they share world ids.
* ``STORYBENCH_PUBLISH_CHARACTER_SERVICE``, ``STORYBENCH_PUBLISH_MEDIA_SERVICE``,
  ``STORYBENCH_PUBLISH_POST_SERVICE``: the fully qualified gRPC service names, for
  forks that renamed a ``package``. The defaults are the names the platform's own
  ``.proto`` files declare (sdshorin/generia ``api/proto``: ``package generia.character;``
  but ``package media;`` and ``package post;``).
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from storybench.exceptions import ConfigError

__all__ = [
    "CHARACTER_SERVICE",
    "MEDIA_SERVICE",
    "POST_SERVICE",
    "PublishSettings",
    "publish_settings",
]

#: Service names as the platform declares them (``package`` + ``service`` of each .proto).
CHARACTER_SERVICE = "generia.character.CharacterService"
MEDIA_SERVICE = "media.MediaService"
POST_SERVICE = "post.PostService"

_SERVICE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


class PublishSettings(BaseSettings):
    """The platform's identity and service names (see the module docstring).

    Attributes:
        platform: the deployment's name, part of the ledger's key.
        character_service, media_service, post_service: fully qualified gRPC service names.
        settle_seconds: how long, seconds, a create call whose answer was lost is looked
            for on the platform before the item is reported uncertain.
    """

    model_config = SettingsConfigDict(env_prefix="STORYBENCH_PUBLISH_", extra="ignore")

    platform: str = Field(default="generia", min_length=1, max_length=100)
    character_service: str = Field(default=CHARACTER_SERVICE, pattern=_SERVICE_NAME)
    media_service: str = Field(default=MEDIA_SERVICE, pattern=_SERVICE_NAME)
    post_service: str = Field(default=POST_SERVICE, pattern=_SERVICE_NAME)
    settle_seconds: float = Field(default=10.0, ge=0)


def publish_settings() -> PublishSettings:
    """The publish settings read from the environment now.

    Raises:
        ConfigError: a setting is malformed (names the variable).
    """
    try:
        return PublishSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "STORYBENCH_PUBLISH_" + str(first["loc"][0]).upper()
        raise ConfigError(f"{name}: {first['msg']}") from None
