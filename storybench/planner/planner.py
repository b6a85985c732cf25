"""``plan_comic``: from a story idea to a valid :class:`~storybench.plan.models.ComicPlan`.

Three stages (characters → structure → panels, one request per page), each a
JSON-Schema-constrained LLM request validated into pydantic models; failures are
re-asked with their validation errors, then repaired by the code, and every
repair is reported in :attr:`PlanResult.repairs`. Ids, positions, page numbers
and seeds are assigned by the code, never by the model. The returned plan always
passes :func:`storybench.plan.plan_issues` with no issues.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from storybench.exceptions import ConfigError, PlanValidationError
from storybench.llm.base import LLMBackend, resolve_llm
from storybench.plan.ids import slugify
from storybench.plan.layouts import template_id
from storybench.plan.models import (
    _BCP47,
    Chapter,
    Character,
    ComicPlan,
    Dialogue,
    Page,
    PanelPlan,
    plan_issues,
)
from storybench.plan.styles import STYLE_IDS
from storybench.planner.progress import PlanProgress, ProgressCallback
from storybench.planner.schemas import PageCountRule, page_count_rule
from storybench.planner.stages import StageOptions, run_characters, run_panels, run_structure
from storybench.planner.world_brief import world_brief
from storybench.world.model import World

__all__ = ["PlanResult", "plan_comic", "resolve_llm"]


@dataclass
class PlanResult:
    """The outcome of :func:`plan_comic`.

    Attributes:
        plan: the valid plan.
        repairs: what the code changed in the model's answers, one note each,
            starting with the JSON path (empty when every answer was valid).
        seconds: wall time of the whole run, seconds.
        requests: LLM requests made (stage 1 + stage 2 + one per page).
    """

    plan: ComicPlan
    repairs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0


def plan_comic(
    prompt: str,
    *,
    style: str = "noir",
    max_pages: int = 5,
    language: str = "en",
    llm: LLMBackend | str | None = None,
    seed: int | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    attempts: int = 2,
    temperature: float | None = None,
    max_tokens_scale: float = 1.0,
    plan_id: str | None = None,
    world: World | None = None,
) -> PlanResult:
    """Plan a comic from a story idea.

    Args:
        prompt: the story idea, any language.
        style: a style id from :data:`storybench.plan.styles.STYLES`.
        max_pages: 1..20. 1 → 1 chapter, 1 page of 1-4 panels; 2-3 → 1 chapter of
            2-3 pages; 4-10 → 1-2 chapters; 11-20 → 2-4 chapters.
        language: BCP-47 code of dialogue and captions; image fields stay English.
        llm: a backend object, a registered name, or ``None`` for the default.
        seed: base sampler seed (``None``: random); stages and pages derive theirs from it.
        progress: show a tqdm bar (widget in notebooks, text in terminals).
        on_progress: called with a :class:`~storybench.planner.progress.ProgressEvent`
            after each stage and each page.
        attempts: tries per request before the code repairs the answer.
        temperature: sampling temperature (``None``: the backend's, 0.7 by default).
        max_tokens_scale: multiplies every request's token budget.
        plan_id: the plan's id (a slug); default: from the prompt (from the title when the prompt has no ASCII letters).
        world: world info (:class:`storybench.world.model.World`): its characters and the
            entries the prompt triggers are offered to stages 1 and 2
            (:func:`~storybench.planner.world_brief.world_brief`).

    Returns:
        :class:`PlanResult` with a plan that passes ``plan_issues`` with no issues.

    Raises:
        ConfigError: empty prompt, unknown style, bad language code, max_pages outside 1..20.
        BackendError: the LLM backend failed for another reason than an invalid answer.
        UnknownBackendError, MissingDependencyError: ``llm`` names no usable backend.
    """
    _check_arguments(prompt, style, language, max_pages)
    prompt = prompt.strip()
    backend = resolve_llm(llm)
    rule = page_count_rule(max_pages)
    so = StageOptions(attempts=attempts, temperature=temperature, seed=seed, max_tokens_scale=max_tokens_scale)
    clock = time.perf_counter
    start = clock()
    run = _Run(backend, prompt, style, language, rule, so, PlanProgress(progress, on_progress, clock))
    run.world = world_brief(world, prompt)
    try:
        characters = run.characters()
        structure = run.structure([(c.id, c.name, c.role) for c in characters])
        chapters = [run.chapter(ci, ch) for ci, ch in enumerate(structure["chapters"], start=1)]
        plan = ComicPlan(
            # the writer's own words name the plan; a small model's title is a poor file name
            id=plan_id or slugify(prompt, fallback=slugify(structure["title"]), limit=48),
            title=structure["title"],
            style=style,
            language=language,
            characters=characters,
            chapters=chapters,
        )
    except BaseException:
        run.bar.close("")
        raise
    issues = plan_issues(plan)
    if issues:  # a bug in the repairs, never the model's fault: say so loudly
        run.bar.close("")
        raise PlanValidationError(issues, source="plan_comic (internal repair gap)")
    seconds = clock() - start
    run.bar.close(f"planned {plan.page_count()} page(s) in {seconds:.1f} s")
    return PlanResult(plan=plan, repairs=run.repairs, seconds=seconds, requests=run.requests)


def _check_arguments(prompt: str, style: str, language: str, max_pages: int) -> None:
    if not prompt or not prompt.strip():
        raise ConfigError("plan_comic: prompt is empty")
    if style not in STYLE_IDS:
        raise ConfigError(f"plan_comic: unknown style {style!r}; known: {', '.join(STYLE_IDS)}")
    if not _BCP47.match(language):
        raise ConfigError(f"plan_comic: language {language!r} is not a BCP-47 code such as 'en' or 'uk'")
    if not isinstance(max_pages, int) or not 1 <= max_pages <= 20:
        raise ConfigError(f"plan_comic: max_pages must be 1..20, got {max_pages!r}")


@dataclass
class _Run:
    """One planning run: the three stages in order, with their repair notes, request count and progress."""

    backend: LLMBackend
    prompt: str
    style: str
    language: str
    rule: PageCountRule
    so: StageOptions
    bar: PlanProgress
    repairs: list[str] = field(default_factory=list)
    requests: int = 0
    cast: list[tuple[str, str, str]] = field(default_factory=list)
    page_total: int = 0
    page_number: int = 0
    previous_summary: str | None = None
    last_location: str = ""
    world: str = ""

    def _noted(self, notes: list[str]) -> None:
        self.requests += 1
        self.repairs += notes

    def characters(self) -> list[Character]:
        """Stage 1: the plan's characters (``char-1``, ``char-2``, ...)."""
        drafts, notes = run_characters(
            self.backend, self.prompt, self.style, self.so, self.rule.max_characters, self.world
        )
        self._noted(notes)
        characters = [Character.model_validate({"id": f"char-{i}", **d}) for i, d in enumerate(drafts, start=1)]
        self.bar.step("characters", f"{len(characters)} character(s)")
        return characters

    def structure(self, cast: list[tuple[str, str, str]]) -> dict[str, Any]:
        """Stage 2: the title and chapters of page summaries and layouts."""
        self.cast = cast
        structure, notes = run_structure(self.backend, self.prompt, self.style, cast, self.rule, self.so, self.world)
        self._noted(notes)
        self.page_total = sum(len(c["pages"]) for c in structure["chapters"])
        self.bar.set_total(2 + self.page_total)
        self.bar.step("structure", f"{len(structure['chapters'])} chapter(s), {self.page_total} page(s)")
        return structure

    def chapter(self, ci: int, ch: dict[str, Any]) -> Chapter:
        """Stage 3 for every page of chapter ``ci`` (from 1)."""
        pages = [self.page(ci, pi, ch["title"], pg) for pi, pg in enumerate(ch["pages"], start=1)]
        return Chapter(id=f"ch{ci}", title=ch["title"], pages=pages)

    def page(self, ci: int, pi: int, chapter_title: str, pg: dict[str, Any]) -> Page:
        """Stage 3 for one page: its panels, ids and positions assigned here."""
        self.page_number += 1
        layout, panel_dicts, notes = run_panels(
            self.backend,
            prompt=self.prompt,
            style=self.style,
            language=self.language,
            cast=self.cast,
            chapter_title=chapter_title,
            page_number=self.page_number,
            page_summary=pg["summary"],
            layout=pg["layout"],
            allowed_layouts=self.rule.layouts,
            path=f"chapters[{ci - 1}].pages[{pi - 1}]",
            previous_summary=self.previous_summary,
            last_location=self.last_location,
            so=self.so,
        )
        self._noted(notes)
        page_id = f"ch{ci}-p{pi}"
        panels = [
            PanelPlan(
                id=f"{page_id}-pan{k}",
                position=k,
                **{**p, "dialogue": [Dialogue(**line) for line in p["dialogue"]]},
            )
            for k, p in enumerate(panel_dicts, start=1)
        ]
        self.previous_summary = pg["summary"]
        self.last_location = panels[-1].location
        self.bar.step("panels", f"page {self.page_number}/{self.page_total} planned")
        return Page(id=page_id, page_number=self.page_number, layout=template_id(layout), panels=panels)
