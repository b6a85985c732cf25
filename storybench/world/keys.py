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

__all__ = ["Haystack", "KeyMatcher", "RegexTimeout", "compile_key", "parse_regex_key"]

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


_WORD = regex.compile(r"\w+")
_SIMPLE = regex.compile(r"^\w+$")


class Haystack:
    """A text to match keys against, with its case-folded form and (built on first use) its
    distinct words. A key made only of word characters occurs in the text exactly when it
    occurs inside one of its words, so such keys are searched in the distinct words (a
    fraction of a long story's text) instead of the whole text.

    Attributes:
        text: the text.
        folded: ``text.casefold()``.
    """

    __slots__ = ("_words", "folded", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = text.casefold()
        self._words: dict[bool, str] = {}

    def words(self, case_sensitive: bool) -> str:
        """The distinct words of the text (or of its folded form), one a line; a short text
        (under 2,048 characters) as it is, since searching it costs less than splitting it."""
        source = self.text if case_sensitive else self.folded
        if len(source) < 2048:
            return source
        found = self._words.get(case_sensitive)
        if found is None:
            found = self._words[case_sensitive] = "\n".join(set(_WORD.findall(source)))
        return found


@dataclass(frozen=True)
class KeyMatcher:
    """A compiled key.

    Attributes:
        key: the key as written.
        pattern: its regex (``None`` for a plain key).
        case_sensitive: plain keys only.
        timeout: seconds a regex may run on one text.
        needle: a plain key as searched (stripped; case-folded unless case-sensitive).
        word: for a one-word key matched as a whole word, its bounded pattern.
        simple: the needle is word characters only (searched among the text's distinct words).
    """

    key: str
    pattern: regex.Pattern[str] | None
    case_sensitive: bool
    timeout: float
    needle: str = ""
    word: regex.Pattern[str] | None = None
    simple: bool = False

    def matches(self, haystack: Haystack) -> bool:
        """Whether the key occurs in ``haystack``.

        Raises:
            RegexTimeout: a regex key ran past ``timeout``.
        """
        if self.pattern is not None:
            try:
                return self.pattern.search(haystack.text, timeout=self.timeout) is not None
            except TimeoutError as exc:
                raise RegexTimeout(self.key, self.timeout) from exc
        if not self.needle:
            return False
        if self.simple:
            if self.needle not in haystack.words(self.case_sensitive):
                return False
            if self.word is None:
                return True
        text = haystack.text if self.case_sensitive else haystack.folded
        if self.needle not in text:
            return False
        return self.word is None or self.word.search(text) is not None


@functools.lru_cache(maxsize=65536)
def compile_key(key: str, *, case_sensitive: bool, whole_words: bool, timeout: float) -> KeyMatcher:
    """A :class:`KeyMatcher` for ``key`` (regex keys recognised by :func:`parse_regex_key`; cached)."""
    pattern = parse_regex_key(key)
    if pattern is not None:
        return KeyMatcher(key, pattern, case_sensitive, timeout)
    needle = key.strip() if case_sensitive else key.strip().casefold()
    word = _word_pattern(needle) if whole_words and needle and len(needle.split()) == 1 else None
    return KeyMatcher(key, None, case_sensitive, timeout, needle, word, bool(_SIMPLE.match(needle)))
