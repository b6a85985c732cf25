"""Errors of the world package, all under :class:`~storybench.exceptions.StorybenchError`::

    StorybenchError
    └── WorldError              a world, card or lorebook cannot be used (names where)
        ├── WorldFormatError    the file is not a format storybench reads (or is broken)
        └── WorldTooLargeError  the file or the decoded card is over the size limit

Each carries ``where`` (a file, a file plus a JSON path, or a PNG chunk) and prints
as one sentence: ``"<where>: <what is wrong>"``.
"""

from __future__ import annotations

from pydantic import ValidationError

from storybench.exceptions import StorybenchError

__all__ = ["WorldError", "WorldFormatError", "WorldTooLargeError", "first_error"]


class WorldError(StorybenchError, ValueError):
    """A world file, character card or lorebook cannot be used.

    Attributes:
        where: the place: a path, ``path:entries.3.key`` or ``card.png[tEXt chara]``.
        message: what is wrong, in plain words.
    """

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class WorldFormatError(WorldError):
    """Not a format storybench reads (or a broken one): nothing was imported."""


class WorldTooLargeError(WorldError):
    """The file or its decoded card JSON is over the size limit: nothing was imported."""


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic validation error: ``(field name, "message (got value)")``."""
    first = exc.errors(include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    shown = repr(first.get("input"))
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return name, f"{first['msg']} (got {shown})"
