"""Loading, validating and saving plans, with errors that say where.

JSON syntax errors are reported as ``file:line:column``; schema and rule errors
as JSON paths (``chapters[0].pages[1].panels``). Before decoding and validating,
:mod:`storybench.plan.guard` refuses oversized, non-UTF-8, too deeply nested
and absurd-number input, so every outcome of :func:`load_plan` and
:func:`parse_plan` is a plan or a :class:`~storybench.exceptions.PlanValidationError`
(or, for a file, an :class:`OSError` from reading it). Messages quote at most
80 characters of a bad value (:func:`storybench.plan.text.show_value`), and at most
:data:`~storybench.plan.guard.MAX_ISSUES` problems are listed in every layer
(:mod:`storybench.plan.validation`). Ids differing only in letter case are refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from storybench.exceptions import PlanIssue, PlanValidationError
from storybench.files import atomic_write_text
from storybench.plan.defaults import Filled, fill_defaults, seed_notes
from storybench.plan.guard import check_plan_object, decode_plan_json, read_plan_text
from storybench.plan.models import ComicPlan, plan_issues
from storybench.plan.text import show_value
from storybench.plan.validation import bounded, case_collisions, validate_plan_model

__all__ = [
    "json_path",
    "load_plan",
    "load_plan_with_notes",
    "parse_plan",
    "parse_plan_with_notes",
    "plan_json_schema",
    "read_plan_data",
    "save_plan",
]


def json_path(loc: tuple[Any, ...]) -> str:
    """Format a pydantic error location as a JSON path: ``('chapters', 0, 'id')`` → ``chapters[0].id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            if len(part) > 40 or not part.isprintable():
                part = show_value(part, 40)
            out += f".{part}" if out else part
    return out


def _issues_from_errors(errors: list[Any]) -> list[PlanIssue]:
    """Pydantic error dicts as plan issues (no pydantic URL, the value quoted briefly)."""
    issues = []
    for err in errors:
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        value = err.get("input")
        quoted = show_value(value)
        shown = "" if isinstance(value, (dict, list)) else f" (got {quoted})"
        if err["type"] in ("missing", "extra_forbidden") or "(text " in msg or quoted in msg:
            shown = ""
        issues.append(PlanIssue(json_path(tuple(err["loc"])), msg + shown, value))
    return issues


def parse_plan_with_notes(data: Any, *, source: str | None = None) -> tuple[ComicPlan, list[Filled]]:
    """Like :func:`parse_plan`, also returning what was filled in (id, language, seeds).

    Returns:
        ``(plan, filled)``; see :mod:`storybench.plan.defaults`.

    Raises:
        PlanValidationError: with every problem and its JSON path.
    """
    if not isinstance(data, dict):
        raise PlanValidationError([PlanIssue("$", f"a plan is a JSON object, got {type(data).__name__}")], source)
    check_plan_object(data, source)
    completed, filled = fill_defaults(data)
    plan = validate_plan_model(completed, source, _issues_from_errors)
    issues = plan_issues(plan) + case_collisions(plan)
    if issues:
        raise PlanValidationError(bounded(issues), source)
    return plan, filled + seed_notes(completed, plan)


def parse_plan(data: dict[str, Any], *, source: str | None = None) -> ComicPlan:
    """Validate a plan dict (camelCase or snake_case keys) against the schema and the rules.

    Plans as Kitsumy's planner writes them (seed 002: no ``id``, no ``language``,
    characters without ``seed``) are completed (see :mod:`storybench.plan.defaults`).

    Args:
        data: the decoded JSON.
        source: where it came from, for error messages.

    Returns:
        The plan, with missing id, language and character seeds filled in.

    Raises:
        PlanValidationError: with every problem and its JSON path (also for objects
            too large, too deep or holding absurd numbers; see :mod:`storybench.plan.guard`).
    """
    return parse_plan_with_notes(data, source=source)[0]


def read_plan_data(path: str | os.PathLike[str]) -> Any:
    """Read and decode a plan file within the limits of :mod:`storybench.plan.guard`.

    Raises:
        OSError: the file cannot be read (missing, a folder, no permission...).
        PlanValidationError: too large, not UTF-8, too deep, absurd numbers or bad JSON.
    """
    text = read_plan_text(path)
    return decode_plan_json(text, str(path))


def load_plan_with_notes(path: str | os.PathLike[str]) -> tuple[ComicPlan, list[Filled]]:
    """Like :func:`load_plan`, also returning what was filled in (see :func:`parse_plan_with_notes`)."""
    return parse_plan_with_notes(read_plan_data(path), source=str(path))


def load_plan(path: str | os.PathLike[str]) -> ComicPlan:
    """Read and validate a plan file.

    Raises:
        FileNotFoundError: no such file.
        OSError: the file cannot be read otherwise (a folder, no permission...).
        PlanValidationError: bad input (``file:line:column``: too large, not UTF-8, too
            deep, absurd numbers, bad JSON) or an invalid plan (JSON paths).
    """
    return load_plan_with_notes(path)[0]


def save_plan(plan: ComicPlan, path: str | os.PathLike[str]) -> Path:
    """Write the plan as camelCase JSON, atomically; returns the path."""
    return atomic_write_text(path, plan.to_json())


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a plan, with camelCase property names."""
    schema = ComicPlan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ComicPlan"
    return schema
