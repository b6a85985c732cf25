"""The three planning stages, each one constrained LLM request (stage 3: one per page).

A stage asks :meth:`LLMBackend.structured` (which re-asks with the validation
errors, bounded by ``attempts``); if no attempt validates, the last answer is
decoded leniently and handed to :mod:`storybench.planner.repair`. Either way the
stage returns clean data plus notes of what the code changed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from storybench.exceptions import StructuredOutputError
from storybench.llm.base import LLMBackend, Message
from storybench.llm.salvage import extract_json
from storybench.plan.layouts import TEMPLATES
from storybench.planner.messages import characters_messages, panels_messages, structure_messages
from storybench.planner.repair import repair_characters, repair_panels, repair_structure
from storybench.planner.schemas import (
    LIMITS,
    PageCountRule,
    characters_answer_model,
    panels_answer_model,
    structure_answer_model,
)

__all__ = ["StageOptions", "ask", "run_characters", "run_panels", "run_structure", "strict_schema"]


@dataclass(frozen=True)
class StageOptions:
    """Request options shared by the stages.

    Attributes:
        attempts: tries per request (the first included) before the code repairs.
        temperature: sampling temperature.
        seed: base seed; stage ``k`` uses ``seed + k`` (``None``: random).
        max_tokens_scale: multiplies each stage's token budget (
            characters 40 + 110 per character, structure 60 + 70 per page, panels 60 + 220 per panel).
    """

    attempts: int = 2
    temperature: float | None = None
    seed: int | None = None
    max_tokens_scale: float = 1.0

    def options(self, offset: int, max_tokens: int) -> dict[str, Any]:
        """Keyword options for one request."""
        opts: dict[str, Any] = {"max_tokens": max(64, int(max_tokens * self.max_tokens_scale))}
        if self.temperature is not None:
            opts["temperature"] = self.temperature
        if self.seed is not None:
            opts["seed"] = (self.seed + offset) % (2**31 - 1)
        return opts


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with every object property required, so constrained
    decoding always writes every field (the model still accepts missing ones)."""
    schema = copy.deepcopy(model.model_json_schema())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and isinstance(node.get("properties"), dict):
                node["required"] = list(node["properties"])
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def ask(
    llm: LLMBackend,
    messages: Sequence[Message],
    model: type[BaseModel],
    *,
    stage: str,
    attempts: int,
    options: dict[str, Any],
) -> tuple[Any, list[str]]:
    """One constrained request; returns ``(decoded answer or None, notes)``.

    A validated answer comes back as its dict; after :class:`StructuredOutputError`
    the last attempt's JSON (or ``None``) comes back with a note.

    Raises:
        BackendError: other backend failures (server down, model missing) pass through.
    """
    try:
        answer = llm.structured(messages, model, attempts=attempts, schema=strict_schema(model), **options)
    except StructuredOutputError as exc:
        raw = extract_json(exc.last_output)
        how = "repaired its last answer" if raw is not None else "its last answer was not JSON; filled from context"
        return raw, [f"{stage}: the answer did not validate after {exc.attempts} attempt(s); {how}"]
    return answer.model_dump(mode="json"), []


def run_characters(
    llm: LLMBackend,
    prompt: str,
    style: str,
    so: StageOptions,
    max_characters: int = LIMITS.characters,
    world: str = "",
) -> tuple[list[dict[str, str]], list[str]]:
    """Stage 1: ``([{"name", "appearance", "clothing", "role"}], notes)``, 1 to ``max_characters``
    characters (offered the ``world``'s characters and places)."""
    model = characters_answer_model(max_characters)
    raw, notes = ask(
        llm,
        characters_messages(prompt, style, max_characters, world),
        model,
        stage="characters",
        attempts=so.attempts,
        options=so.options(1, 40 + 110 * max_characters),
    )
    characters, more = repair_characters(raw, prompt, max_characters)
    return characters, notes + more


def run_structure(
    llm: LLMBackend,
    prompt: str,
    style: str,
    cast: Sequence[tuple[str, str, str]],
    rule: PageCountRule,
    so: StageOptions,
    world: str = "",
) -> tuple[dict[str, Any], list[str]]:
    """Stage 2: ``({"title", "chapters": [{"title", "pages": [{"summary", "layout"}]}]}, notes)``
    obeying ``rule``. ``cast`` holds ``(id, name, role)``; ``world``: the world's characters and places."""
    model = structure_answer_model(rule)
    raw, notes = ask(
        llm,
        structure_messages(prompt, style, cast, rule, world),
        model,
        stage="structure",
        attempts=so.attempts,
        options=so.options(2, 60 + 70 * rule.max_pages_total),
    )
    structure, more = repair_structure(raw, rule, prompt)
    return structure, notes + more


def run_panels(
    llm: LLMBackend,
    *,
    prompt: str,
    style: str,
    language: str,
    cast: Sequence[tuple[str, str, str]],
    chapter_title: str,
    page_number: int,
    page_summary: str,
    layout: str,
    allowed_layouts: Sequence[str],
    path: str,
    previous_summary: str | None,
    last_location: str,
    so: StageOptions,
) -> tuple[str, list[dict[str, Any]], list[str]]:
    """Stage 3 for one page: ``(layout, panels, notes)`` with exactly as many panels
    as ``layout`` needs (the layout may have been switched to fit)."""
    n = TEMPLATES[layout].panel_count
    model = panels_answer_model(n, [cid for cid, _, _ in cast])
    messages = panels_messages(
        prompt, style, language, cast, chapter_title, page_number, page_summary, layout, previous_summary
    )
    raw, notes = ask(
        llm,
        messages,
        model,
        stage=f"{path}.panels",
        attempts=so.attempts,
        options=so.options(10 + page_number, 60 + 220 * n),
    )
    layout, panels, more = repair_panels(
        raw,
        layout=layout,
        allowed_layouts=allowed_layouts,
        characters=[(cid, name) for cid, name, _ in cast],
        page_summary=page_summary,
        path=path,
        last_location=last_location,
    )
    return layout, panels, notes + more
