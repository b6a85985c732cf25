"""Fixtures of the world tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def _contains(exported: Any, original: Any, where: str = "") -> None:
    """Every field of ``original`` is in ``exported`` with the same value (fields may be added)."""
    if isinstance(original, dict):
        assert isinstance(exported, dict), where
        for key, value in original.items():
            assert key in exported, f"{where}.{key} lost"
            _contains(exported[key], value, f"{where}.{key}")
    elif isinstance(original, list):
        assert isinstance(exported, list) and len(exported) == len(original), where
        for index, (a, b) in enumerate(zip(exported, original, strict=True)):
            _contains(a, b, f"{where}[{index}]")
    else:
        assert exported == original and type(exported) is type(original), f"{where}: {exported!r} != {original!r}"


@pytest.fixture
def contains() -> Callable[..., None]:
    """``contains(exported, original)``: every field of ``original`` is in ``exported`` with its value."""
    return _contains
