"""Schema validation with a bounded number of problems, and the id rules pydantic cannot see.

Pydantic collects every error of an object before it returns, so a plan of
520,000 empty chapters (1.5 MB) would cost 1.5 million error objects (about 2 GB).
:func:`validate_plan_model` therefore validates a large plan list by list: each
item of a list of sub-objects (chapters, pages, panels, characters, dialogue) is
validated on its own, depth first, and collection stops after
:data:`~storybench.plan.guard.MAX_ISSUES` problems, saying how many items were
not checked. Only a plan whose items all pass is then validated whole (for the
rules that span it). Small plans (at most :data:`DIRECT_NODES` JSON values) are
validated whole at once; either way, time and memory are linear in the file.

:func:`bounded` cuts any list of problems to :data:`~storybench.plan.guard.MAX_ISSUES`
with an "... and N more" line; :func:`case_collisions` finds ids that differ only
in letter case (they name the same file on case-insensitive file systems: macOS,
Windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from storybench.exceptions import PlanIssue, PlanValidationError
from storybench.plan.guard import MAX_ISSUES
from storybench.plan.models import ComicPlan
from storybench.plan.text import show_value

__all__ = ["DIRECT_NODES", "bounded", "case_collisions", "validate_plan_model"]

#: Plans with at most this many JSON values are validated whole in one call.
DIRECT_NODES = 10_000


def bounded(issues: list[PlanIssue], more: int = 0, limit: int = MAX_ISSUES) -> list[PlanIssue]:
    """``issues`` cut to ``limit``, plus one line counting the rest (and ``more`` known beyond them)."""
    rest = max(0, len(issues) - limit) + more
    if not rest:
        return issues
    return [*issues[:limit], PlanIssue("$", f"... and {rest:,} more problem(s) not listed")]


@cache
def _list_fields(model: type[BaseModel]) -> tuple[tuple[str, str, type[BaseModel]], ...]:
    """``(field name, alias, item model)`` of each field of ``model`` that is a list of models."""
    found = []
    for name, info in model.model_fields.items():
        args = get_args(info.annotation)
        if (
            get_origin(info.annotation) is list
            and args
            and isinstance(args[0], type)
            and issubclass(args[0], BaseModel)
        ):
            found.append((name, info.alias or name, args[0]))
    return tuple(found)


@dataclass
class _Collector:
    limit: int
    errors: list[tuple[tuple[Any, ...], Any]] = field(default_factory=list)
    unchecked: int = 0

    @property
    def full(self) -> bool:
        return len(self.errors) >= self.limit

    def add(self, loc: tuple[Any, ...], exc: ValidationError, skip: set[str]) -> None:
        for err in exc.errors(include_url=False):
            if self.full:
                return
            first = err["loc"][0] if err["loc"] else None
            if first in skip or (skip and first is None):
                continue  # about a list emptied for this pass, or the whole object: seen in the full pass
            self.errors.append((loc + tuple(err["loc"]), err))


def _collect(model: type[BaseModel], data: Any, loc: tuple[Any, ...], out: _Collector) -> None:
    """Validate ``data`` as ``model`` list item by list item, depth first, into ``out``."""
    if not isinstance(data, dict):
        try:
            model.model_validate(data)
        except ValidationError as exc:
            out.add(loc, exc, set())
        return
    shell, lists = _without_lists(model, data)
    try:
        model.model_validate(shell)  # this object's own fields first
    except ValidationError as exc:
        out.add(loc, exc, {key for key, _, _ in lists})
    for key, items, item_model in lists:
        _collect_items(item_model, items, (*loc, key), out)


def _without_lists(
    model: type[BaseModel], data: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, list[Any], type[BaseModel]]]]:
    """``data`` with its lists of sub-objects emptied, and ``(key, items, item model)`` of each of them."""
    shell = dict(data)
    lists: list[tuple[str, list[Any], type[BaseModel]]] = []
    for name, alias, item_model in _list_fields(model):
        key = alias if alias in data else name
        if isinstance(data.get(key), list):
            lists.append((key, data[key], item_model))
            shell[key] = []
    return shell, lists


def _collect_items(item_model: type[BaseModel], items: list[Any], loc: tuple[Any, ...], out: _Collector) -> None:
    """Collect each of ``items`` in turn; once ``out`` is full, count the rest as unchecked."""
    for i, item in enumerate(items):
        if out.full:
            out.unchecked += len(items) - i
            break
        _collect(item_model, item, (*loc, i), out)


def _nodes(data: Any, stop: int) -> int:
    """How many JSON values ``data`` holds, counting up to ``stop``."""
    count, stack = 0, [data]
    while stack and count <= stop:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def validate_plan_model(data: dict[str, Any], source: str | None, issues_of: Any, limit: int = MAX_ISSUES) -> ComicPlan:
    """Validate a plan object against the schema, listing at most ``limit`` problems.

    Args:
        data: the decoded plan (defaults filled in).
        source: the file, for the error.
        issues_of: turns a list of pydantic error dicts into :class:`PlanIssue` objects.
        limit: problems listed before collection stops.

    Raises:
        PlanValidationError: the problems (at most ``limit``, then a line saying
            how many list items were not checked).
    """
    if _nodes(data, DIRECT_NODES) > DIRECT_NODES:
        out = _Collector(limit)
        _collect(ComicPlan, data, (), out)
        if out.errors:
            issues = issues_of([{**err, "loc": loc} for loc, err in out.errors])
            if out.unchecked or out.full:
                note = f"validation stopped after {len(issues)} problem(s); {out.unchecked:,} more item(s) not checked"
                issues.insert(0, PlanIssue("$", note))
            raise PlanValidationError(issues, source)
    try:
        return ComicPlan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = len(errors) - min(len(errors), limit)
        raise PlanValidationError(bounded(issues_of(errors[:limit]), more), source) from None


def case_collisions(plan: ComicPlan) -> list[PlanIssue]:
    """Ids that differ from an earlier one only in letter case (plan, characters,
    chapters, pages, panels): they would name the same file on a case-insensitive
    file system."""
    seen: dict[str, tuple[str, str]] = {}
    issues: list[PlanIssue] = []

    def check(path: str, ident: str) -> None:
        folded = ident.casefold()
        if folded in seen and seen[folded][1] != ident:
            other_path, other = seen[folded]
            issues.append(
                PlanIssue(
                    path,
                    f"id {show_value(ident)} differs from {show_value(other)} at {other_path} only in letter case; "
                    "they would be the same file on macOS and Windows: rename one",
                    ident,
                )
            )
        seen.setdefault(folded, (path, ident))

    for i, character in enumerate(plan.characters):
        check(f"characters[{i}].id", character.id)
    for ci, chapter in enumerate(plan.chapters):
        check(f"chapters[{ci}].id", chapter.id)
        for pi, page in enumerate(chapter.pages):
            check(f"chapters[{ci}].pages[{pi}].id", page.id)
            for ki, panel in enumerate(page.panels):
                check(f"chapters[{ci}].pages[{pi}].panels[{ki}].id", panel.id)
    return issues
