"""plan_comic with the real embedded LLM (llama.cpp + SmolLM2-135M): skipped without llama_cpp.

Kept small (1 and 3 pages, bounded token budgets): the point is that the schemas and
repairs turn a 135M model's answers into a valid plan, not the story's quality.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")

from storybench.llm.base import get_llm_backend
from storybench.plan import plan_issues
from storybench.planner import plan_comic


@pytest.fixture(scope="module")
def llm():
    try:
        backend = get_llm_backend("llamacpp")
    except Exception as exc:  # backend module or model file not available here
        pytest.skip(f"embedded LLM unavailable: {exc}")
    yield backend
    backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("max_pages", [1, 3])
def test_embedded_llm_gives_valid_plan(llm, max_pages):
    result = plan_comic(
        "A cat detective solves a mystery in a rainy city",
        max_pages=max_pages,
        llm=llm,
        seed=1,
        progress=False,
        max_tokens_scale=0.8,
        attempts=1,  # bounded time: one try per request, the code repairs the rest
    )
    plan = result.plan
    assert plan_issues(plan) == []
    assert len(plan.chapters) == 1
    assert (plan.page_count() == 1) if max_pages == 1 else (2 <= plan.page_count() <= 3)
    if max_pages == 1:
        assert len(plan.chapters[0].pages[0].panels) <= 4
