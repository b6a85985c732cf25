"""Key matching: plain text, case, whole words (Unicode), /regex/flags keys, bounded regex time."""

from __future__ import annotations

import time

import pytest

from storybench.world.keys import Haystack, RegexTimeout, compile_key, parse_regex_key


def matches(key: str, text: str, *, case: bool = False, whole: bool = False) -> bool:
    return compile_key(key, case_sensitive=case, whole_words=whole, timeout=0.05).matches(Haystack(text))


def test_plain_keys_match_substrings_case_insensitively_by_default():
    assert matches("Dragon", "the dragon's lair")
    assert matches("дракон", "Там ДРАКОНА бачили")  # an inflected Ukrainian form contains the key
    assert not matches("Dragon", "the dragon", case=True)
    assert matches("Dragon", "the Dragon", case=True)
    assert not matches("   ", "anything")


def test_whole_words_use_unicode_word_characters():
    assert matches("дракон", "Там був дракон.", whole=True)
    assert not matches("дракон", "драконячий хвіст", whole=True)  # JavaScript's \\W would have matched here
    assert not matches("cat", "concatenate", whole=True)
    assert matches("cat", "a cat!", whole=True)
    # several words: a substring, as in SillyTavern
    assert matches("magical forest", "the magical forests", whole=True)


def test_regex_keys_in_sillytavern_syntax():
    assert parse_regex_key("/dragon|wyrm/i") is not None
    assert parse_regex_key("dragon") is None
    assert parse_regex_key("/a/b/") is None  # an unescaped slash inside: a plain key
    assert parse_regex_key("/(unclosed/") is None  # invalid: a plain key
    assert matches("/dra(gon|ke)s?/i", "Two DRAKES flew")
    assert not matches("/dra(gon|ke)s?/", "Two DRAKES flew")  # no i flag: case matters
    assert matches(r"/path\/to/", "the path/to it")
    assert matches("/^Start/m", "line\nStart here")
    assert not matches("/^Start/", "line\nStart here")


def test_a_catastrophic_regex_is_stopped_in_time():
    key = compile_key("/(a|aa)+$/", case_sensitive=False, whole_words=False, timeout=0.05)
    text = "a" * 40 + "!"
    started = time.perf_counter()
    with pytest.raises(RegexTimeout) as info:
        key.matches(Haystack(text))
    assert time.perf_counter() - started < 2.0
    assert "took longer than 50 ms" in str(info.value) and "/(a|aa)+$/" in str(info.value)
