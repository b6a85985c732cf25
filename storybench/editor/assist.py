"""The plan editor's LLM assists: plan a comic from an idea (with Stop), write a panel's
dialogue, and enhance a panel's image prompt. No widgets, no undo, no files: each assist
returns data and the model (:mod:`storybench.editor.model`) turns it into an edit.

:meth:`PlanAssist.stop` (any thread: the view's Stop, the kernel's Interrupt) ends a
plan generation within a fraction of a second: every request goes through a
:class:`~storybench.editor.stoppable.StoppableLLM`, and the planner gets
:class:`~storybench.exceptions.Cancelled`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storybench.editor.stoppable import StoppableLLM
from storybench.plan.models import ComicPlan, Dialogue, PanelPlan
from storybench.planner.planner import plan_comic, resolve_llm
from storybench.prompts.dialogue import context_from_panel, speakers_from_plan, write_dialogue
from storybench.prompts.enhance import enhance_prompt
from storybench.prompts.panel import panel_prompt

__all__ = ["PlanAssist"]


class PlanAssist:
    """LLM actions of the editor.

    Args:
        llm: LLM backend (object or registered name) used when a call names none;
            ``None``: the default backend.
    """

    def __init__(self, llm: Any = None) -> None:
        self.llm = llm
        self._stoppable: StoppableLLM | None = None

    def stop(self) -> None:
        """Stop the plan generation in progress (nothing when none runs)."""
        stoppable = self._stoppable
        if stoppable is not None:
            stoppable.stop()

    def generate(
        self,
        prompt: str,
        *,
        style: str = "noir",
        max_pages: int = 5,
        language: str = "en",
        llm: Any = None,
        seed: int | None = None,
        on_progress: Callable[[Any], None] | None = None,
        progress: bool = False,
    ) -> Any:
        """Plan a comic from ``prompt`` (:func:`storybench.planner.plan_comic`).

        Returns:
            The :class:`~storybench.planner.PlanResult` (plan, repairs, seconds).

        Raises:
            ConfigError, BackendError: from ``plan_comic``.
            Cancelled: :meth:`stop` was called.
        """
        stoppable = StoppableLLM(resolve_llm(llm or self.llm))
        self._stoppable = stoppable
        try:
            return plan_comic(
                prompt,
                style=style,
                max_pages=max_pages,
                language=language,
                llm=stoppable,
                seed=seed,
                progress=progress,
                on_progress=on_progress,
            )
        finally:
            self._stoppable = None

    def dialogue(
        self,
        plan: ComicPlan,
        panel: PanelPlan,
        dialogue_type: str,
        n_lines: int = 2,
        *,
        llm: Any = None,
        seed: int | None = None,
    ) -> list[Dialogue]:
        """``n_lines`` dialogue lines for ``panel`` (:func:`storybench.prompts.dialogue.write_dialogue`).

        Raises:
            ConfigError, BackendError: from ``write_dialogue``.
        """
        return write_dialogue(
            speakers_from_plan(plan, [panel.id]),
            context_from_panel(panel),
            dialogue_type,
            n_lines,
            llm=llm or self.llm,
            language=plan.language,
            seed=seed,
        )

    @staticmethod
    def enhanced_prompt(plan: ComicPlan, panel: PanelPlan, **presets: Any) -> Any:
        """``panel``'s image prompt enhanced with presets (:func:`storybench.prompts.enhance.enhance_prompt`;
        keyword ``style``, ``lighting``, ``mood``, ``quality``), at most 1000 characters."""
        positive, _ = panel_prompt(plan, panel)
        return enhance_prompt(positive, max_chars=1000, **presets)
