"""storybench.fonts: per-script families at the style's weight, coverage, direction; the old import path warns."""

from __future__ import annotations

import importlib
import sys

import pytest

from storybench.compose.lettering import GlyphGap
from storybench.deprecation import StorybenchDeprecationWarning
from storybench.fonts import (
    choose_family,
    family_missing,
    font_path,
    get_font,
    installed,
    is_ignorable,
    missing_chars,
    scripts,
    text_direction,
)


@pytest.mark.parametrize(
    ("text", "language", "family"),
    [
        ("Хто насмілився прийти? Її, ґанок!", "uk", "Roboto-Medium"),  # the style's font covers it
        ("こんにちは、世界！", "ja", "NotoSansCJK-JP-Medium"),
        ("漢字", "zh-Hant", "NotoSansCJK-TC-Medium"),
        ("汉字", "zh", "NotoSansCJK-SC-Medium"),
        ("한국어", "", "NotoSansCJK-KR-Medium"),
        ("مرحبا بالعالم", "ar", "NotoSansArabic-Medium"),
        ("שלום עולם", "he", "NotoSansHebrew-Medium"),
        ("नमस्ते दुनिया", "hi", "NotoSansDevanagari-Medium"),
        ("😀🎉", "en", "NotoEmoji-Medium"),
    ],
)
def test_each_script_gets_a_family_with_its_glyphs(text, language, family):
    choice = choose_family("Roboto-Medium", text, language)
    assert choice.family == family and choice.missing == ()
    assert installed(family)
    assert missing_chars(get_font(family, 30), text) == []


def test_the_style_weight_carries_over_to_the_fallback():
    black = choose_family("Roboto-Black", "ドドドド", "ja").family
    assert black == "NotoSansCJK-JP-Black"
    heavy, light = get_font(black, 60), get_font("NotoSansCJK-JP-Thin", 60)
    ink = [sum(f.getmask("ド")) for f in (heavy, light)]
    assert ink[0] > 1.5 * ink[1]  # the Black instance of the variable font, not its default


def test_a_script_no_font_has_is_reported_with_the_closest_family():
    choice = choose_family("Roboto-Medium", "Read it: 𓀀𓁐", "en")
    assert choice.family == "Roboto-Medium" and choice.missing == ("𓀀", "𓁐")
    assert family_missing("NotoSans", "𓀀") == ["𓀀"]


def test_direction_and_ignorable_characters():
    assert text_direction("שלום, world") == "rtl"
    assert text_direction("Hi, שלום") == "ltr"
    assert text_direction("123 مرحبا") == "rtl"  # digits are weak: the first strong character decides
    assert text_direction("") == "ltr"
    assert all(is_ignorable(ch) for ch in "\u200d\u202e\u200b\ufe0f \n\x00")
    assert not is_ignorable("a") and not is_ignorable("\u0378")


def test_unknown_families_fall_back_to_roboto_medium():
    assert font_path("NoSuchFamily") == font_path("Roboto-Medium")
    assert not installed("NoSuchFamily") and not installed("NotoSansKlingon")


def test_the_old_import_path_warns_and_still_works():
    sys.modules.pop("storybench.compose.fonts", None)
    with pytest.warns(StorybenchDeprecationWarning, match=r"'storybench\.compose\.fonts'.*'storybench\.fonts'"):
        old = importlib.import_module("storybench.compose.fonts")
    assert old.get_font is get_font and old.missing_chars is missing_chars and old.font_path is font_path


def test_a_text_mixing_scripts_no_one_font_covers_says_so():
    choice = choose_family("Roboto-Medium", "ⵜⴰⵎⴰⵣⵉⵖⵜ 日本 𓀀", "")
    assert set(choice.missing) == {"日", "本", "𓀀"} and set(choice.elsewhere) == {"日", "本"}
    gap = GlyphGap(kind="balloon", text="…", font=choice.family, chars=choice.missing, elsewhere=choice.elsewhere)
    assert gap.problem() == (
        "no installed font has glyphs for 𓀀 (U+13000) in a balloon: they print as boxes; "
        "a balloon mixes scripts that no one installed font covers: 日 (U+65E5), 本 (U+672C) "
        f"print as boxes in {choice.family}"
    )
    # a mixed line that one fallback covers is no problem: DejaVu Sans has Hebrew and Latin
    assert choose_family("Roboto-Medium", "שלום John", "he").missing == ()


def test_without_libraqm_arabic_is_flagged_not_silently_unshaped(monkeypatch):
    monkeypatch.setattr(scripts, "raqm_available", lambda: False)
    choose_family.cache_clear()
    try:
        choice = choose_family("Roboto-Medium", "مرحبا", "ar")
        assert choice.unshaped and choice.family.startswith("NotoSansArabic")
        assert not choose_family("Roboto-Medium", "Hello", "en").unshaped
    finally:
        choose_family.cache_clear()
    gap = GlyphGap(kind="caption", text="مرحبا", font=choice.family, unshaped=True)
    assert gap.problem() == (
        "the caption is right-to-left or needs shaping and Pillow has no libraqm "
        "(its wheels need FriBiDi: apt-get install libfribidi0): "
        "it prints unshaped, left to right"
    )
