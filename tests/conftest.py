"""Shared test set-up for the feature folders under tests/.

The support modules (protocol-faithful test servers, the plan factory, scripted LLMs and fakes)
live in tests/ itself; this puts that folder on ``sys.path`` so every feature folder imports them
by name (``from plan_factory import plan_dict``), and offers the plan factory as fixtures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from plan_factory import plan_dict  # noqa: E402  (needs the path set above)


@pytest.fixture
def repo_root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture
def example_plan_dict():
    """A factory for valid plan dicts (see tests/plan_factory.py): ``example_plan_dict(pages=2)``."""
    return plan_dict
