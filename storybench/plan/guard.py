"""Limits checked on a plan before it is decoded or validated, so hostile input fails fast.

A plan file or object is refused — with a :class:`~storybench.exceptions.PlanValidationError`
naming the file position or JSON path — when:

* it is larger than the size limit (``STORYBENCH_MAX_PLAN_BYTES``, default
  :data:`DEFAULT_MAX_PLAN_BYTES`; checked from the file size before reading it);
* it is not UTF-8 (the message gives the byte offset and the byte; a UTF-8 byte
  order mark is accepted and dropped; UTF-16/32 are recognised by their BOM and named);
* its JSON nests deeper than :data:`MAX_DEPTH` levels (a plan needs 9; Python's
  decoder would otherwise fail with ``RecursionError``);
* a number has more than :data:`MAX_NUMBER_DIGITS` digits (Python refuses to
  convert integers over 4,300 digits; no field needs more than 10);
* a string is longer than :data:`MAX_STRING_CHARS` (no field allows more than 600).

Every check is a single pass over the text or the object tree (linear time, no
recursion), and no message quotes more than a few dozen characters of the input.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from pathlib import Path
from typing import Any

from storybench.config import env_settings
from storybench.exceptions import PlanIssue, PlanValidationError
from storybench.plan.text import show_value

__all__ = [
    "DEFAULT_MAX_PLAN_BYTES",
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
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, col = _position(text, match.start())
                issue = PlanIssue(
                    f"{where}:{line}:{col}", f"JSON nested deeper than {MAX_DEPTH} levels (a plan needs 9)"
                )
                raise PlanValidationError([issue], source)
        elif first in "]}":
            depth -= 1
        elif first != '"':
            line, col = _position(text, match.start())
            issue = PlanIssue(
                f"{where}:{line}:{col}",
                f"a number of {len(token):,} digits; plan numbers have at most {MAX_NUMBER_DIGITS}",
            )
            raise PlanValidationError([issue], source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        issue = PlanIssue(f"{where}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")
        raise PlanValidationError([issue], source) from None
    except (ValueError, RecursionError) as exc:  # backstop: limits the scan above should have caught
        issue = PlanIssue(where, f"not usable JSON: {show_value(str(exc))}")
        raise PlanValidationError([issue], source) from None


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


def check_plan_object(data: Any, source: str | None = None) -> None:
    """Walk a decoded plan (iteratively) and refuse what no valid plan holds.

    Checks depth, long numbers, long strings, non-string keys and the total size
    (the sum of string lengths, so one large string shared by many panels counts
    every time it appears). Runs before pydantic, so a hostile object costs time and
    memory linear in its size.

    Raises:
        PlanValidationError: every problem found (listing at most :data:`MAX_ISSUES`),
            each with its JSON path.
    """
    limit = max_plan_bytes()
    issues: list[PlanIssue] = []
    more = 0
    total = 0
    stack: list[tuple[Any, Loc, int]] = [(data, None, 0)]

    def add(loc: Loc, message: str) -> None:
        nonlocal more
        if len(issues) < MAX_ISSUES:
            issues.append(PlanIssue(_loc_path(loc), message))
        else:
            more += 1

    while stack:
        value, loc, depth = stack.pop()
        total += 8
        if isinstance(value, str):
            total += len(value)
            if len(value) > MAX_STRING_CHARS:
                add(loc, f"text of {len(value):,} characters; no plan field holds more than {MAX_STRING_CHARS:,}")
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value).bit_length() > _MAX_INT_BITS:
                add(loc, f"{show_value(value)}; plan numbers have at most {MAX_NUMBER_DIGITS} digits")
        elif isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                add(loc, f"nested deeper than {MAX_DEPTH} levels (a plan needs 9)")
                continue
            if isinstance(value, dict):
                for key, child in value.items():
                    if not isinstance(key, str):
                        add((loc, str(key)), f"object keys are strings, got {type(key).__name__}")
                        continue
                    total += len(key)
                    stack.append((child, (loc, key), depth + 1))
            else:
                for i, child in enumerate(value):
                    stack.append((child, (loc, i), depth + 1))
        if total > limit:
            raise _too_large(total, limit, source)
    if issues:
        issues.sort(key=lambda issue: issue.path)
        if more:
            issues.append(PlanIssue("$", f"... and {more:,} more problem(s) of the same kinds"))
        raise PlanValidationError(issues, source)
