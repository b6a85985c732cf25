"""Named plugin registries: image backends, LLM backends, publish targets.

A :class:`Registry` maps a name to a factory (usually a class) and creates objects by
name. Entries come from three sources, later ones winning on a name clash:

1. the registry's entry-point group (``[project.entry-points."<group>"]`` in a
   plugin's pyproject: ``name = "package.module:Class"``), which cannot shadow a built-in;
2. built-in entries, given as ``"package.module:Attribute"`` paths and imported only
   when used, each with the optional extra that provides its third-party modules;
3. :meth:`Registry.register` calls.

Every registry raises the same two errors: :class:`~storybench.exceptions.UnknownBackendError`
(listing the known names) for a name that is not registered, and
:class:`~storybench.exceptions.MissingDependencyError` (naming the extra to install)
when a built-in entry's optional third-party module is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from storybench.exceptions import MissingDependencyError, UnknownBackendError

__all__ = ["Extra", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Extra:
    """The optional extra a built-in entry needs.

    Attributes:
        name: the ``storybench[...]`` extra that installs it, e.g. ``"llamacpp"``.
        modules: ``(import name, distribution name)`` of each third-party module the
            entry needs, e.g. ``(("llama_cpp", "llama-cpp-python"),)``.
    """

    name: str
    modules: tuple[tuple[str, str], ...]


class Registry(Generic[T]):
    """Names to factories of one kind of plugin.

    Args:
        kind: what the entries are, for messages (``"image"``, ``"LLM"``, ``"publish"``);
            the unknown-name error reads ``unknown <kind> backend 'x'; known: ...``.
        group: the entry-point group third-party packages register in.
        builtins: the built-in entries: name to ``"package.module:Attribute"``.
        extras: the optional extra each built-in entry needs, by name (none: core only).
    """

    def __init__(
        self, kind: str, group: str, builtins: Mapping[str, str], extras: Mapping[str, Extra] | None = None
    ) -> None:
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)
        self._extras = dict(extras or {})
        self._registered: dict[str, Callable[..., T] | str] = {}

    def register(self, name: str, factory: Callable[..., T] | str) -> None:
        """Register ``factory`` (a class or callable, or a ``"module:Attribute"`` path) under ``name``."""
        self._registered[name] = factory

    def _entries(self) -> dict[str, Callable[..., T] | str]:
        found: dict[str, Callable[..., T] | str] = dict(self._builtins)
        for ep in entry_points(group=self.group):
            found.setdefault(ep.name, ep.value)
        found.update(self._registered)
        return found

    def names(self) -> list[str]:
        """Every registered name, sorted (built-ins whose extra is missing included)."""
        return sorted(self._entries())

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``, imported if needed.

        Raises:
            UnknownBackendError: no such name; the message lists the known names.
            MissingDependencyError: a built-in entry's optional extra is not installed.
        """
        entries = self._entries()
        if name not in entries:
            raise UnknownBackendError(self.kind, name, list(entries))
        entry = entries[name]
        extra = self._extras.get(name) if entry == self._builtins.get(name) else None
        if extra is not None:
            for module, package in extra.modules:
                if importlib.util.find_spec(module) is None:
                    raise MissingDependencyError(f"the {name} {self.kind} backend", extra.name, package)
        if isinstance(entry, str):
            return _load(entry)
        return entry

    def create(self, name: str, **options: Any) -> T:
        """Create the entry registered as ``name`` with ``options`` (its constructor's keywords).

        Raises:
            UnknownBackendError: no such name; the message lists the known names.
            MissingDependencyError: a built-in entry's optional extra is not installed.
        """
        return self.factory(name)(**options)


def _load(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return factory
