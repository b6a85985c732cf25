"""Shared test set-up for the feature folders under tests/.

The support modules (protocol-faithful test servers, the plan factory, scripted LLMs and fakes)
live in tests/ itself; pytest's ``pythonpath = ["tests"]`` setting (pyproject.toml) lets every
feature folder import them by name (``from plan_factory import plan_dict``). This offers the
plan factory as fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_factory import plan_dict

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture
def example_plan_dict():
    """A factory for valid plan dicts (see tests/plan_factory.py): ``example_plan_dict(pages=2)``."""
    return plan_dict
