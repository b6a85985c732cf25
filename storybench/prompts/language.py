"""Language names for prompts: a plan's BCP-47 code as the English word a model understands."""

from __future__ import annotations

__all__ = ["language_name"]

_LANGUAGES = {
    "en": "English",
    "uk": "Ukrainian",
    "ru": "Russian",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "pl": "Polish",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
}


def language_name(code: str) -> str:
    """English name of a BCP-47 language code (``"uk"`` → ``"Ukrainian"``); the code itself when unknown."""
    return _LANGUAGES.get(code.split("-")[0].lower(), code)
