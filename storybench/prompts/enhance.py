"""Image prompt enhancement: a base prompt plus presets (style, lighting, mood,
quality) → an enhanced English image prompt.

The preset path is deterministic and always available: the fragments of the
chosen presets are appended to the base prompt (duplicates skipped) and the
quality preset adds negative terms. An LLM rewrite is optional: its answer is
kept only if it fits the length bound and reads as English; otherwise the
deterministic prompt is returned with a note saying why. Presets are data
(``enhance_presets.json``), listed by :func:`list_presets`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from storybench.exceptions import BackendError, ConfigError
from storybench.llm.base import LLMBackend, Message, resolve_llm

__all__ = ["PRESET_CATEGORIES", "EnhancedPrompt", "enhance_prompt", "list_presets", "looks_english"]

PRESET_CATEGORIES: tuple[str, ...] = ("style", "lighting", "mood", "quality")


@lru_cache(maxsize=1)
def _presets() -> dict[str, dict[str, dict[str, str]]]:
    text = resources.files("storybench.prompts").joinpath("enhance_presets.json").read_text(encoding="utf-8")
    return json.loads(text)


def list_presets() -> dict[str, dict[str, str]]:
    """Every preset by category: ``{"lighting": {"neon": "neon lighting, ..."}, ...}``
    (category → preset id → prompt fragment), categories in :data:`PRESET_CATEGORIES` order."""
    data = _presets()
    return {cat: {pid: p["prompt"] for pid, p in data[cat].items()} for cat in PRESET_CATEGORIES}


@dataclass
class EnhancedPrompt:
    """The result of :func:`enhance_prompt`.

    Attributes:
        prompt: the enhanced positive prompt (English).
        negative: negative terms from the quality preset (``""`` when none).
        presets: the presets applied, category → id.
        rewritten: the LLM rewrite was used.
        notes: why a rewrite was rejected, or other remarks.
    """

    prompt: str
    negative: str = ""
    presets: dict[str, str] = field(default_factory=dict)
    rewritten: bool = False
    notes: list[str] = field(default_factory=list)


_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)


def looks_english(text: str, *, min_ascii_share: float = 0.95) -> bool:
    """Whether ``text`` reads as English: at least ``min_ascii_share`` of its letters are
    ASCII and it has at least one word. A cheap check against rewrites in another language."""
    letters = "".join(_WORDS.findall(text))
    if not letters:
        return False
    ascii_letters = sum(1 for ch in letters if ch.isascii())
    return ascii_letters / len(letters) >= min_ascii_share


def _join(parts: list[str]) -> str:
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        for frag in (f.strip() for f in part.split(",")):
            key = frag.lower()
            if frag and key not in seen:
                seen.add(key)
                out.append(frag)
    return ", ".join(out)


def enhance_prompt(
    base: str,
    *,
    style: str | None = None,
    lighting: str | None = None,
    mood: str | None = None,
    quality: str | None = None,
    llm: LLMBackend | str | None = None,
    rewrite: bool = False,
    max_chars: int = 400,
    seed: int | None = None,
) -> EnhancedPrompt:
    """Enhance an image prompt with presets, optionally rewritten by an LLM.

    Args:
        base: the prompt to enhance (English; e.g. a panel's positive prompt).
        style, lighting, mood, quality: preset ids from :func:`list_presets` (``None``: none).
        llm: backend object or name for the rewrite (``None`` with ``rewrite``: the default backend).
        rewrite: ask the LLM to rewrite the enhanced prompt into fluent prompt language.
        max_chars: longest accepted prompt, characters; the deterministic prompt is cut
            at a fragment boundary to fit, a longer rewrite is rejected.
        seed: sampler seed of the rewrite.

    Returns:
        :class:`EnhancedPrompt`.

    Raises:
        ConfigError: unknown preset id (the message lists the known ones), empty base, ``max_chars`` < 40.
    """
    if not base or not base.strip():
        raise ConfigError("enhance_prompt: base prompt is empty")
    if max_chars < 40:
        raise ConfigError(f"enhance_prompt: max_chars must be at least 40, got {max_chars}")
    chosen = {"style": style, "lighting": lighting, "mood": mood, "quality": quality}
    parts, negative, applied = _apply_presets(base, chosen)
    prompt = _join(parts)
    notes: list[str] = []
    if len(prompt) > max_chars:
        cut = prompt[:max_chars]
        prompt = cut[: cut.rfind(",")] if "," in cut else cut
        notes.append(f"cut to {max_chars} characters")
    result = EnhancedPrompt(prompt=prompt, negative=negative, presets=applied, notes=notes)
    if not rewrite:
        return result

    _rewrite(result, resolve_llm(llm), max_chars, seed)
    return result


def _apply_presets(base: str, chosen: dict[str, str | None]) -> tuple[list[str], str, dict[str, str]]:
    """``(prompt parts, negative prompt, applied presets)`` for the chosen preset id per category.

    Raises:
        ConfigError: an unknown preset id (the message lists the known ones).
    """
    data = _presets()
    parts = [base]
    negative = ""
    applied: dict[str, str] = {}
    for cat in PRESET_CATEGORIES:
        pid = chosen[cat]
        if not pid:
            continue
        if pid not in data[cat]:
            raise ConfigError(f"enhance_prompt: unknown {cat} preset {pid!r}; known: {', '.join(data[cat])}")
        parts.append(data[cat][pid]["prompt"])
        negative = data[cat][pid].get("negative", negative)
        applied[cat] = pid
    return parts, negative, applied


def _rewrite(result: EnhancedPrompt, backend: LLMBackend, max_chars: int, seed: int | None) -> None:
    """Ask ``backend`` to rewrite ``result.prompt``; keep the rewrite only if it is usable (notes say why not)."""
    messages = [
        Message(
            role="system",
            content="You improve prompts for text-to-image models. Answer with the improved prompt only: "
            "one line of English, comma-separated visual phrases, no explanations.",
        ),
        Message(
            role="user",
            content=f"Rewrite this image prompt, keep every visual detail, at most {max_chars} characters:\n"
            f"{result.prompt}",
        ),
    ]
    options: dict[str, Any] = {"max_tokens": max(32, max_chars // 3), "temperature": 0.4}
    if seed is not None:
        options["seed"] = seed
    try:
        text = " ".join(backend.complete(messages, **options).split()).strip().strip('"').strip()
    except BackendError as exc:
        result.notes.append(f"rewrite failed ({exc}); kept the preset prompt")
        return
    if not text:
        result.notes.append("rewrite was empty; kept the preset prompt")
    elif len(text) > max_chars:
        result.notes.append(f"rewrite was {len(text)} characters (> {max_chars}); kept the preset prompt")
    elif not looks_english(text):
        result.notes.append("rewrite was not English; kept the preset prompt")
    else:
        result.prompt = text
        result.rewritten = True
