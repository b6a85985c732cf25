"""The public names of the story package, and imports in any order (no cycles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import storybench.story as story
import storybench.story.explorer as explorer

ROOT = Path(__file__).resolve().parents[2]


def test_public_names() -> None:
    assert sorted(story.__all__) == sorted(
        [
            "ChoiceExtraction",
            "ChoiceList",
            "default_choices",
            "extract_choices",
            "StoryEngine",
            "export_story",
            "to_html",
            "to_markdown",
            "to_twee",
            "GenerationSettings",
            "Segment",
            "Story",
            "StoryFormatError",
            "StorySettings",
            "load_story",
        ]
    )
    for name in story.__all__:
        assert getattr(story, name) is not None
    assert sorted(explorer.__all__) == ["ExplorerModel", "StoryExplorer"]


@pytest.mark.parametrize(
    "module",
    [
        "storybench.story.illustration",
        "storybench.story.engine",
        "storybench.story.explorer.view",
    ],
)
def test_each_module_imports_first(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
