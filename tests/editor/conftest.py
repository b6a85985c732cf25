"""Fixtures shared by the plan editor's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def view(tmp_path):
    """A headless ``PlanEditorView`` over the example plan saved in ``tmp_path`` (scripted LLM)."""
    pytest.importorskip("ipywidgets")
    from scripted_llm import ScriptedLLM

    from storybench.editor import PlanEditorModel, example_plan
    from storybench.editor.view import PlanEditorView
    from storybench.plan import save_plan

    save_plan(example_plan(), tmp_path / "rain-on-podil.json")
    model = PlanEditorModel(tmp_path, llm=ScriptedLLM())
    model.open_plan(tmp_path / "rain-on-podil.json")
    v = PlanEditorView(model, debounce=None)
    yield v
    v.close()
