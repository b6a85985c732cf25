"""Salvage what a language model answered: JSON cut off or wrapped in prose, text too long.

Small models wrap JSON in prose or code fences and, at the token limit, stop in the
middle of an object. :func:`extract_json` recovers the data from such answers;
:func:`clip` brings a free-text field down to its length limit at a word boundary.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["clip", "extract_json"]


def extract_json(text: str | None) -> Any:
    """Decode ``text`` as JSON, or the outermost ``{...}`` inside it, or — for an answer
    cut off by the token limit — its complete part (up to the last closed object, with
    the open brackets closed); ``None`` if nothing parses."""
    if not text:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        pass
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except (json.JSONDecodeError, ValueError):
            pass
    if start >= 0:
        return _salvage_truncated(text[start:])
    return None


def _string_step(ch: str, escaped: bool, in_string: bool) -> tuple[bool, bool]:
    """``(escaped, in_string)`` after ``ch`` when in a JSON string, or at its opening quote."""
    if not in_string:
        return False, True  # the opening quote
    if escaped:
        return False, True
    return ch == "\\", ch != '"'


def _closes(stack: list[str], closer: str) -> bool:
    """Pop the innermost open bracket if ``closer`` closes it; False when it does not."""
    return bool(stack) and stack.pop() == closer


def _closing_cuts(text: str) -> list[tuple[int, str]] | None:
    """Each index of a ``}`` that closes a nested object, with the closers its open brackets need.

    Brackets inside JSON strings are ignored. ``None`` when a closer does not match (not JSON).
    """
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string or ch == '"':
            escaped, in_string = _string_step(ch, escaped, in_string)
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not _closes(stack, ch):
                return None
            if ch == "}" and stack:
                cuts.append((i, "".join(reversed(stack))))
    return cuts


def _salvage_truncated(text: str) -> Any:
    """The longest prefix of ``text`` ending at a closed ``}`` made valid by closing its open brackets."""
    cuts = _closing_cuts(text)
    if cuts is None:
        return None
    for i, closers in reversed(cuts):
        try:
            return json.loads(text[: i + 1] + closers)
        except (json.JSONDecodeError, ValueError):
            continue
    return None


def clip(value: Any, limit: int) -> str:
    """``value`` as one line of text, whitespace collapsed, cut at a word boundary to ``limit`` characters."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    text = " ".join(str(value).split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:")
