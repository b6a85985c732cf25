"""Matching one key against a text: plain text, whole words, or a ``/regex/flags`` key.

Rules (SillyTavern's ``matchKeys`` in ``public/scripts/world-info.js``, with one
deliberate difference): a plain key matches as a substring, lower-cased on both
sides unless case-sensitive. With whole-word matching a one-word key must stand
between non-word characters; SillyTavern uses JavaScript's ASCII ``\\W`` there, which
treats every Cyrillic letter as a boundary, so here word characters are Unicode
(``дракон`` does not match inside ``драконячий``). A key of several words still
matches as a substring, as in SillyTavern.

A key written ``/pattern/flags`` is a regular expression (SillyTavern's
``parseRegexFromString``): flags ``i``, ``m``, ``s`` apply, ``g``, ``u``, ``y`` are
ignored, an unescaped ``/`` inside or an invalid pattern makes it a plain key.
Regexes run through the ``regex`` package with a ``timeout``: a catastrophic
pattern is stopped and reported (:class:`RegexTimeout`), never hangs a story.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import regex

__all__ = ["KeyMatcher", "RegexTimeout", "compile_key", "parse_regex_key"]

_REGEX_KEY = regex.compile(r"^/([\w\W]+?)/([gimsuy]*)$")
_UNESCAPED_SLASH = regex.compile(r"(^|[^\\])/")
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}


class RegexTimeout(Exception):
    """A regex key took longer than its time limit on one text (the key counts as not matching).

    Attributes:
        key: the key as written.
        seconds: the limit that was hit.
    """

    def __init__(self, key: str, seconds: float) -> None:
        self.key = key
        self.seconds = seconds
        super().__init__(
            f"key {key} took longer than {seconds * 1000:.0f} ms on the text and was stopped "
            "(a pattern with nested repetition? simplify it)"
        )


@functools.lru_cache(maxsize=4096)
def parse_regex_key(key: str) -> regex.Pattern[str] | None:
    """The compiled pattern of a ``/pattern/flags`` key, or ``None`` for a plain key.

    Returns ``None`` too when the pattern is invalid or holds an unescaped ``/``
    (SillyTavern then treats the key as text).
    """
    found = _REGEX_KEY.match(key)
    if not found:
        return None
    pattern, flags = found.group(1), found.group(2)
    if _UNESCAPED_SLASH.search(pattern):
        return None
    pattern = pattern.replace("\\/", "/")
    compiled_flags = 0
    for flag in flags:
        compiled_flags |= _FLAGS.get(flag, 0)
    try:
        return regex.compile(pattern, compiled_flags)
    except (regex.error, ValueError, OverflowError):
        return None


@functools.lru_cache(maxsize=8192)
def _word_pattern(needle: str) -> regex.Pattern[str]:
    return regex.compile(r"(?<!\w)" + regex.escape(needle) + r"(?!\w)")


@dataclass(frozen=True)
class KeyMatcher:
    """A compiled key.

    Attributes:
        key: the key as written.
        pattern: its regex (``None`` for a plain key).
        case_sensitive: plain keys only.
        whole_words: plain keys only.
        timeout: seconds a regex may run on one text.
    """

    key: str
    pattern: regex.Pattern[str] | None
    case_sensitive: bool
    whole_words: bool
    timeout: float

    def matches(self, text: str, folded: str) -> bool:
        """Whether the key occurs in ``text`` (``folded`` is ``text.casefold()``, computed once).

        Raises:
            RegexTimeout: a regex key ran past ``timeout``.
        """
        if self.pattern is not None:
            try:
                return self.pattern.search(text, timeout=self.timeout) is not None
            except TimeoutError as exc:
                raise RegexTimeout(self.key, self.timeout) from exc
        needle = self.key.strip() if self.case_sensitive else self.key.strip().casefold()
        if not needle:
            return False
        haystack = text if self.case_sensitive else folded
        if self.whole_words and len(needle.split()) == 1:
            return needle in haystack and _word_pattern(needle).search(haystack) is not None
        return needle in haystack


def compile_key(key: str, *, case_sensitive: bool, whole_words: bool, timeout: float) -> KeyMatcher:
    """A :class:`KeyMatcher` for ``key`` (regex keys recognised by :func:`parse_regex_key`)."""
    return KeyMatcher(key, parse_regex_key(key), case_sensitive, whole_words, timeout)
