"""Limits checked on a plan before it is decoded or validated, so hostile input fails fast.

A plan file or object is refused — with a :class:`~storybench.exceptions.PlanValidationError`
naming the file position or JSON path — when:

* it is larger than the size limit (``STORYBENCH_MAX_PLAN_BYTES``, default
  :data:`DEFAULT_MAX_PLAN_BYTES`; checked from the file size before reading it);
* it is not UTF-8 (the message gives the byte offset and the byte; a UTF-8 byte
  order mark is accepted and dropped; UTF-16/32 are recognised by their BOM and named);
* it holds more than :data:`MAX_CONTAINERS` objects and lists (found by the same
  scan, before decoding: 520,000 empty chapters are refused in one line);
* its JSON nests deeper than :data:`MAX_DEPTH` levels (a plan needs 9; Python's
  decoder would otherwise fail with ``RecursionError``);
* a number has more than :data:`MAX_NUMBER_DIGITS` digits (Python refuses to
  convert integers over 4,300 digits; no field needs more than 10);
* a string is longer than :data:`MAX_STRING_CHARS` (no field allows more than 600);
* an object gives one key twice (JSON allows it and the last value would silently
  win: a whole dialogue list dropped); the issue names the key's JSON path.

Every check is a single pass over the text or the object tree (linear time, no
recursion), and no message quotes more than a few dozen characters of the input.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storybench.config import env_settings
from storybench.exceptions import PlanIssue, PlanValidationError
from storybench.plan.text import show_value

__all__ = [
    "DEFAULT_MAX_PLAN_BYTES",
    "MAX_CONTAINERS",
    "MAX_DEPTH",
    "MAX_NUMBER_DIGITS",
    "MAX_STRING_CHARS",
    "check_plan_object",
    "decode_plan_json",
    "max_plan_bytes",
    "read_plan_text",
]

DEFAULT_MAX_PLAN_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 40
MAX_STRING_CHARS = 4000
#: JSON objects and lists in a plan (a valid plan of 20 pages holds a few thousand).
MAX_CONTAINERS = 100_000
#: Problems listed before the rest are only counted.
MAX_ISSUES = 200
_MAX_INT_BITS = 133  # 2**133 has 41 digits

# one token per match: a whole string (so brackets inside strings are skipped), a bracket, or a long digit run
# (possessive quantifiers: no backtracking stack, so a 4 MB string costs no extra memory)
_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]|[0-9]{' + str(MAX_NUMBER_DIGITS + 1) + ",}", re.DOTALL)
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def max_plan_bytes() -> int:
    """The plan size limit in bytes: ``STORYBENCH_MAX_PLAN_BYTES`` (:class:`~storybench.config.EnvSettings`),
    default :data:`DEFAULT_MAX_PLAN_BYTES`."""
    return env_settings().max_plan_bytes


def _too_large(size: int, limit: int, source: str | None) -> PlanValidationError:
    return PlanValidationError(
        [
            PlanIssue(
                source or "$",
                f"the plan is {size:,} bytes, over the limit of {limit:,} bytes "
                "(a 20-page plan is well under 1 MB; raise STORYBENCH_MAX_PLAN_BYTES if it is really meant)",
            )
        ],
        source,
    )


def read_plan_text(path: str | os.PathLike[str]) -> str:
    """Read a plan file as text, refusing oversized and non-UTF-8 files.

    Raises:
        OSError: the file cannot be read (missing, a folder, no permission...).
        PlanValidationError: larger than :func:`max_plan_bytes`, or not UTF-8 text
            (the issue gives the byte offset and the byte).
    """
    path = Path(path)
    limit = max_plan_bytes()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise _too_large(size, limit, str(path))
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while reading, or a special file without a size
        raise _too_large(len(data), limit, str(path))
    for bom, name in _BOMS:
        if data.startswith(bom):
            issue = PlanIssue(str(path), f"the file is {name} text; plans are UTF-8: save it again as UTF-8")
            raise PlanValidationError([issue], str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        issue = PlanIssue(
            f"{path}:{line}",
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} ({exc.reason}); "
            "plans are UTF-8 JSON: save the file as UTF-8",
        )
        raise PlanValidationError([issue], str(path)) from None


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _scan(text: str, where: str, source: str | None) -> None:
    """One pass over the JSON text: refuse deep nesting, too many containers and long numbers.

    Raises:
        PlanValidationError: the first such problem, at ``file:line:column``.
    """
    depth = 0
    containers = 0

    def refuse(index: int, message: str) -> PlanValidationError:
        line, col = _position(text, index)
        return PlanValidationError([PlanIssue(f"{where}:{line}:{col}", message)], source)

    for match in _TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if first in "[{":
            depth += 1
            containers += 1
            if containers > MAX_CONTAINERS:
                raise refuse(match.start(), _too_many_containers("").message)
            if depth > MAX_DEPTH:
                raise refuse(match.start(), f"JSON nested deeper than {MAX_DEPTH} levels (a plan needs 9)")
        elif first in "]}":
            depth -= 1
        elif first != '"':
            raise refuse(
                match.start(), f"a number of {len(token):,} digits; plan numbers have at most {MAX_NUMBER_DIGITS}"
            )


def decode_plan_json(text: str, source: str | None = None) -> Any:
    """Decode plan JSON after a linear scan for nesting depth and number length.

    Args:
        text: the JSON text.
        source: file name for positions (``file:line:column``).

    Raises:
        PlanValidationError: too large, nested deeper than :data:`MAX_DEPTH`, a number of
            more than :data:`MAX_NUMBER_DIGITS` digits, or invalid JSON — with ``file:line:column``.
    """
    where = source or "<plan>"
    limit = max_plan_bytes()
    if len(text) > limit:
        raise _too_large(len(text.encode("utf-8", "surrogatepass")), limit, source)
    _scan(text, where, source)
    duplicates: list[tuple[dict[str, Any], str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            duplicates.extend((obj, k) for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        issue = PlanIssue(f"{where}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")
        raise PlanValidationError([issue], source) from None
    except (ValueError, RecursionError) as exc:  # backstop: limits the scan above should have caught
        issue = PlanIssue(where, f"not usable JSON: {show_value(str(exc))}")
        raise PlanValidationError([issue], source) from None
    if duplicates:
        raise PlanValidationError(_duplicate_issues(data, duplicates), source)
    return data


def _duplicate_issues(data: Any, duplicates: list[tuple[dict[str, Any], str]]) -> list[PlanIssue]:
    """One issue per key given twice in one object, at its JSON path (found by walking ``data``)."""
    wanted: dict[int, list[str]] = {}
    for obj, key in duplicates:
        wanted.setdefault(id(obj), []).append(key)
    issues: list[PlanIssue] = []
    stack: list[tuple[Any, Loc]] = [(data, None)]
    while stack and len(issues) < MAX_ISSUES:
        value, loc = stack.pop()
        if isinstance(value, dict):
            for key in wanted.get(id(value), []):
                issues.append(
                    PlanIssue(
                        _loc_path((loc, key)),
                        f"the key {show_value(key)} is given more than once in this object; only the last "
                        "would count: keep one",
                    )
                )
            stack.extend((child, (loc, k)) for k, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (loc, i)) for i, child in enumerate(value))
    issues.sort(key=lambda issue: issue.path)
    return bounded_list(issues, len(duplicates))


def bounded_list(issues: list[PlanIssue], total: int) -> list[PlanIssue]:
    """``issues`` (at most :data:`MAX_ISSUES`) plus a line counting the ``total - len(issues)`` not listed."""
    rest = total - len(issues[:MAX_ISSUES])
    issues = issues[:MAX_ISSUES]
    return [*issues, PlanIssue("$", f"... and {rest:,} more problem(s) of the same kind")] if rest > 0 else issues


Loc = tuple[Any, Any] | None  # (parent loc, key): a path built only when a problem is reported


def _loc_path(loc: Loc) -> str:
    keys = []
    while loc is not None:
        loc, key = loc
        keys.append(key)
    out = ""
    for key in reversed(keys):
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            key = key if len(key) <= 40 and key.isprintable() else show_value(key, 40)
            out += f".{key}" if out else key
    return out or "$"


class _Walk:
    """What :func:`check_plan_object` has found so far."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.limit = max_plan_bytes()
        self.issues: list[PlanIssue] = []
        self.more = 0
        self.total = 0
        self.containers = 0

    def add(self, loc: Loc, message: str) -> None:
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(PlanIssue(_loc_path(loc), message))
        else:
            self.more += 1

    def scalar(self, value: Any, loc: Loc) -> None:
        self.total += 8
        if isinstance(value, str):
            self.total += len(value)
            if len(value) > MAX_STRING_CHARS:
                self.add(loc, f"text of {len(value):,} characters; no plan field holds more than {MAX_STRING_CHARS:,}")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > _MAX_INT_BITS:
            self.add(loc, f"{show_value(value)}; plan numbers have at most {MAX_NUMBER_DIGITS} digits")
        if self.total > self.limit:
            raise _too_large(self.total, self.limit, self.source)

    def container(self, loc: Loc) -> None:
        self.containers += 1
        if self.containers > MAX_CONTAINERS:
            raise PlanValidationError([_too_many_containers(_loc_path(loc))], self.source)

    def key(self, key: Any, loc: Loc) -> bool:
        """Count an object key; ``False`` (and an issue) when it is not a string."""
        if isinstance(key, str):
            self.total += len(key)
            return True
        self.add((loc, str(key)), f"object keys are strings, got {type(key).__name__}")
        return False


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _too_many_containers(where: str) -> PlanIssue:
    return PlanIssue(
        where,
        f"more than {MAX_CONTAINERS:,} JSON objects and lists; a plan of {20} pages needs a few thousand",
    )


def check_plan_object(data: Any, source: str | None = None) -> None:
    """Walk a decoded plan (iteratively) and refuse what no valid plan holds.

    Checks depth, the number of objects and lists (at most :data:`MAX_CONTAINERS`),
    long numbers, long strings, non-string keys and the total size (the sum of
    string lengths, so one large string shared by many panels counts every time it
    appears). Runs before pydantic, so a hostile object costs time linear in its
    size and memory linear in its depth (one iterator per open container).

    Raises:
        PlanValidationError: every problem found (listing at most :data:`MAX_ISSUES`),
            each with its JSON path.
    """
    walk = _Walk(source)
    stack: list[tuple[Iterator[tuple[Any, Any]], Loc, int, bool]] = []
    if isinstance(data, (dict, list, tuple)):
        walk.container(None)
        stack.append((_children(data), None, 0, isinstance(data, dict)))
    else:
        walk.scalar(data, None)
    while stack:
        children, loc, depth, is_dict = stack[-1]
        pair = next(children, None)
        if pair is None:
            stack.pop()
            continue
        key, child = pair
        if is_dict and not walk.key(key, loc):
            continue
        child_loc = (loc, key)
        if not isinstance(child, (dict, list, tuple)):
            walk.scalar(child, child_loc)
        elif depth + 1 >= MAX_DEPTH:
            walk.add(child_loc, f"nested deeper than {MAX_DEPTH} levels (a plan needs 9)")
        else:
            walk.container(child_loc)
            stack.append((_children(child), child_loc, depth + 1, isinstance(child, dict)))
    if walk.issues:
        issues = sorted(walk.issues, key=lambda issue: issue.path)
        if walk.more:
            issues.append(PlanIssue("$", f"... and {walk.more:,} more problem(s) of the same kinds"))
        raise PlanValidationError(issues, source)
