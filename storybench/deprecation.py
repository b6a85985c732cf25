"""Deprecations of the public surface: one warning class, one helper, renamed keys and modules.

The public surface is what users store or type: plan JSON fields, notebook parameters
(``-p`` names kept in scheduled jobs), CLI flags, entry-point groups and ``storybench.*``
public names. When one of them is renamed, the old name keeps working for at least one
release and warns, naming the replacement and the release that removes it (the pattern of
diffusers' ``deprecate`` and pydantic's ``PydanticDeprecatedSince20``). ``CHANGELOG.md``
lists every deprecation with the release that removes it.

:class:`StorybenchDeprecationWarning` subclasses :class:`FutureWarning`, not
:class:`DeprecationWarning`: the people who see it are writers and batch users (a plan
field, a notebook parameter), and Python hides ``DeprecationWarning`` outside ``__main__``.

Example::

    deprecate("the -p name 'seed_base'", instead="'base_seed'", removed_in="0.3")
    data = rename_keys(data, {"pageNo": "pageNumber"}, where="chapters[0].pages[1]")
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

__all__ = [
    "StorybenchDeprecationWarning",
    "deprecate",
    "moved_module",
    "rename_keys",
]


class StorybenchDeprecationWarning(FutureWarning):
    """A public name (field, parameter, flag, module) that was renamed and will go away."""


def deprecate(what: str, *, instead: str, removed_in: str, stacklevel: int = 2) -> None:
    """Warn that ``what`` is deprecated.

    Args:
        what: the old name as the user wrote it, e.g. ``"the plan field 'pageNo'"``.
        instead: what to use now, e.g. ``"'pageNumber'"``.
        removed_in: the storybench release that removes the old name, e.g. ``"0.3"``.
        stacklevel: as for :func:`warnings.warn` (2: the caller of the caller of this).

    Warns:
        StorybenchDeprecationWarning: always.
    """
    warnings.warn(
        f"{what} is deprecated and will be removed in storybench {removed_in}; use {instead} instead",
        StorybenchDeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def rename_keys(data: Any, renames: Mapping[str, str], *, where: str = "", removed_in: str, kind: str = "field") -> Any:
    """Return ``data`` with old keys renamed to their new names, warning once per old key.

    Args:
        data: a decoded JSON object (anything else is returned unchanged, so a validator
            can call this before it knows the shape).
        renames: ``{old: new}``.
        where: the JSON path of ``data`` for the message, e.g. ``"chapters[0]"`` (``""``: the top).
        removed_in: the release that removes the old names.
        kind: what the keys are, for the message (``"field"``, ``"parameter"``).

    Returns:
        A new dict when anything was renamed, else ``data`` itself.

    Raises:
        ValueError: when both the old and the new key are present (which one is meant is not
            knowable); the message names both and ``where``.
    """
    if not isinstance(data, dict) or not any(old in data for old in renames):
        return data
    out = dict(data)
    for old, new in renames.items():
        if old not in out:
            continue
        place = f"{where}.{old}" if where else old
        if new in out:
            raise ValueError(f"{place}: both the old {kind} {old!r} and its new name {new!r} are given; keep {new!r}")
        out[new] = out.pop(old)
        deprecate(f"the {kind} {place!r}", instead=repr(new), removed_in=removed_in, stacklevel=3)
    return out


def moved_module(old: str, new: str, *, removed_in: str) -> ModuleType:
    """Import and return module ``new`` on behalf of the deprecated module ``old``, warning once.

    A shim module keeps an old import path working::

        # storybench/widgets/__init__.py
        import sys
        from storybench.deprecation import moved_module
        sys.modules[__name__] = moved_module(__name__, "storybench.ui_kit", removed_in="0.3")

    Args:
        old: the old dotted module name (for the message).
        new: the dotted name of the module that replaces it.
        removed_in: the release that removes ``old``.

    Returns:
        The module ``new``.

    Raises:
        ImportError: when ``new`` cannot be imported.
    """
    deprecate(f"the module {old!r}", instead=repr(new), removed_in=removed_in, stacklevel=3)
    return importlib.import_module(new)
