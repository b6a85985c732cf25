"""Loading, validating and saving plans, with errors that say where.

JSON syntax errors are reported as ``file:line:column``; schema and rule errors
as JSON paths (``chapters[0].pages[1].panels``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storybench.exceptions import PlanIssue, PlanValidationError
from storybench.io import atomic_write_text
from storybench.plan.models import ComicPlan, plan_issues

__all__ = ["json_path", "load_plan", "parse_plan", "plan_json_schema", "save_plan"]


def json_path(loc: tuple[Any, ...]) -> str:
    """Format a pydantic error location as a JSON path: ``('chapters', 0, 'id')`` → ``chapters[0].id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _issues_from_validation_error(exc: ValidationError) -> list[PlanIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        value = err.get("input")
        shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
        if err["type"] in ("missing", "extra_forbidden"):
            shown = ""
        issues.append(PlanIssue(json_path(tuple(err["loc"])), msg + shown, value))
    return issues


def parse_plan(data: dict[str, Any], *, source: str | None = None) -> ComicPlan:
    """Validate a plan dict (camelCase or snake_case keys) against the schema and the rules.

    Args:
        data: the decoded JSON.
        source: where it came from, for error messages.

    Returns:
        The plan, with missing character seeds filled in.

    Raises:
        PlanValidationError: with every problem and its JSON path.
    """
    if not isinstance(data, dict):
        raise PlanValidationError([PlanIssue("", f"a plan is a JSON object, got {type(data).__name__}")], source)
    try:
        plan = ComicPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanValidationError(_issues_from_validation_error(exc), source) from None
    issues = plan_issues(plan)
    if issues:
        raise PlanValidationError(issues, source)
    return plan


def load_plan(path: str | os.PathLike[str]) -> ComicPlan:
    """Read and validate a plan file.

    Raises:
        FileNotFoundError: no such file.
        PlanValidationError: bad JSON (``file:line:column``) or an invalid plan (JSON paths).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        issue = PlanIssue(f"{path}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")
        raise PlanValidationError([issue], str(path)) from None
    return parse_plan(data, source=str(path))


def save_plan(plan: ComicPlan, path: str | os.PathLike[str]) -> Path:
    """Write the plan as camelCase JSON, atomically; returns the path."""
    return atomic_write_text(path, plan.to_json())


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a plan, with camelCase property names."""
    schema = ComicPlan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ComicPlan"
    return schema
