"""Choice extraction: split a model's answer into narrative text and 2-4 choices.

Models end a segment with a list of choices in many shapes; all of these count::

    1. Open the door          1) Open the door         **1.** Open the door
    - Open the door           * Open the door          Option 1: Open the door
    Choice 1 - Open the door  Вариант 1: Открыть дверь Варіант 1: Відчинити двері

The *last* block of such lines (blank lines allowed between them) is taken as the
choices and removed from the narrative, together with a heading line just above it
("Your choices:", "Что делать дальше?" ...). When the lines are run together on one
line ("1. Left 2. Right 3. Wait") they are split. Choices are cleaned of markdown,
deduplicated (case-insensitive) and capped at :data:`MAX_CHOICES`.

When fewer than :data:`MIN_CHOICES` remain, the engine asks the model again with a
:class:`ChoiceList` structured request, then falls back to :func:`default_choices`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

__all__ = [
    "MAX_CHOICES",
    "MAX_CHOICE_CHARS",
    "MIN_CHOICES",
    "RECOGNISERS",
    "ChoiceExtraction",
    "ChoiceList",
    "clean_choice",
    "default_choices",
    "extract_choices",
    "finalize_choices",
    "is_choice_line",
]

MIN_CHOICES = 2
MAX_CHOICES = 4
MAX_CHOICE_CHARS = 120

_WORDS = r"(?:option|choice|variant|вариант|варіант|выбор|вибір|опция|опція)"
_NUMBERED = re.compile(
    rf"""^\s*
    (?:[-*•]\s+)?                       # an optional bullet before the number
    (?:\*\*|__)?\s*                      # opening bold
    (?:{_WORDS}\s*)?                     # "Option", "Вариант"...
    \(?(?P<num>[1-9])\s*(?:[.):：\-–—]|\*\*|__)+  # 1.  1)  (1)  1:  1 -  **1.**
    \s*(?:\*\*|__)?\s*
    (?P<text>\S.*?)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_BULLET = re.compile(r"^\s*[-*•–]\s+(?P<text>\S.*?)\s*$")
_INLINE_MARK = re.compile(rf"(?:(?<=\s)|^)(?:\*\*)?(?:{_WORDS}\s*)?([1-9])\s*[.)](?:\*\*)?\s+", re.IGNORECASE)
_HEADING = re.compile(
    r"""^\s*(?:\*\*|__|\#+\s*)?[^.!]{0,60}?
    (?:choices?|options?|what\s+(?:will|do|should)\s+you\s+do|what\s+next|your\s+move|
       варианты?|выбор|что\s+(?:делать|дальше|(?:ты|вы)\s+(?:сделаешь|сделаете|выберешь|выберете))|
       варіанти?|вибір|що\s+(?:робити|далі|(?:ти|ви)\s+(?:зробиш|зробите|обереш|оберете)))
    [^.!]{0,60}?[:?]?\s*(?:\*\*|__)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_PLACEHOLDER = re.compile(r"^(?:an?|another|a third|first|second|third)?\s*(?:action|choice|option)\s*\d*$", re.I)
_LETTER = re.compile(r"^(?:[A-Da-dАБВГабвг]|\d)[.)]\s+")
_MARKDOWN = re.compile(r"\*\*|__|`|^#+\s*")


def is_choice_line(line: str) -> bool:
    """Whether ``line`` looks like one choice (numbered, worded or bulleted)."""
    return bool(_NUMBERED.match(line) or _BULLET.match(line))


def clean_choice(text: str) -> str:
    """A choice's display text: markdown, wrapping quotes and brackets removed, whitespace
    collapsed, cut at :data:`MAX_CHOICE_CHARS` characters on a word boundary; ``""`` when
    nothing usable (no letters) remains."""
    t = _MARKDOWN.sub("", text).strip()
    t = re.sub(r"\s+", " ", t)
    t = t.strip(" \t\"'“”„«»*_[]")
    t = _LETTER.sub("", t)  # "A. Run", "б) Бежать"
    t = t.rstrip(" ,;:-–—")
    if t.endswith(".") and not t.endswith(".."):
        t = t[:-1].rstrip()
    if len(t) > MAX_CHOICE_CHARS:
        cut = t[:MAX_CHOICE_CHARS].rsplit(" ", 1)[0]
        t = cut.rstrip(" ,;:-–—") + "…"
    if not re.search(r"[^\W\d_]", t):
        return ""
    words = [x.strip(".,;:!?…") for x in t.casefold().split()]
    if _PLACEHOLDER.match(t) or (len(words) >= 4 and len(set(words)) <= len(words) // 2):
        return ""  # the prompt's placeholder copied, or a looping run of words
    return t


@dataclass
class ChoiceExtraction:
    """What :func:`extract_choices` found.

    Attributes:
        narrative: the text without the choice lines and their heading.
        choices: cleaned, deduplicated choices, at most :data:`MAX_CHOICES` (may be fewer than 2).
        dropped: how many choice lines were dropped as duplicates, empty or over the limit.
    """

    narrative: str
    choices: list[str] = field(default_factory=list)
    dropped: int = 0


def _line_choice(line: str) -> str | None:
    m = _NUMBERED.match(line) or _BULLET.match(line)
    return m.group("text") if m else None


def _split_inline(line: str) -> tuple[str, list[str]] | None:
    """``("prefix", [choices])`` when ``line`` holds 2+ numbered choices run together
    (numbers counting up from 1), else ``None``."""
    marks = list(_INLINE_MARK.finditer(line))
    if len(marks) < 2:
        return None
    # keep the longest run 1, 2, 3... starting at a "1"
    best: list[re.Match[str]] = []
    for i, m in enumerate(marks):
        if m.group(1) != "1":
            continue
        run = [m]
        for nxt in marks[i + 1 :]:
            if int(nxt.group(1)) == int(run[-1].group(1)) + 1:
                run.append(nxt)
        if len(run) > len(best):
            best = run
    if len(best) < 2:
        return None
    parts = []
    for j, m in enumerate(best):
        end = best[j + 1].start() if j + 1 < len(best) else len(line)
        parts.append(line[m.end() : end].strip())
    return line[: best[0].start()].rstrip(), parts


def _dedupe(raw: list[str]) -> tuple[list[str], int]:
    out: list[str] = []
    seen: set[str] = set()
    dropped = 0
    for item in raw:
        c = clean_choice(item)
        key = re.sub(r"[\W_]+", " ", c.casefold()).strip()
        if not c or key in seen or any(len(k) >= 24 and (key.startswith(k) or k.startswith(key)) for k in seen):
            dropped += 1
            continue
        seen.add(key)
        out.append(c)
    if len(out) > MAX_CHOICES:
        dropped += len(out) - MAX_CHOICES
        out = out[:MAX_CHOICES]
    return out, dropped


def _last_filled(lines: list[str]) -> int:
    """The index of the last non-blank line, ``-1`` when every line is blank."""
    n = len(lines) - 1
    while n >= 0 and not lines[n].strip():
        n -= 1
    return n


def _block_above(lines: list[str], stop: int) -> list[int]:
    """The indices of the run of choice lines that ends right above ``stop`` (blank lines
    allowed inside), in order; empty when the line above is not a choice."""
    block: list[int] = []
    for n in range(stop - 1, -1, -1):
        if not lines[n].strip():
            continue
        if _line_choice(lines[n]) is None:
            break
        block.insert(0, n)
    return block


def _heading_above(lines: list[str], first: int) -> int:
    """Where the narrative ends above a choice block starting at ``first``: the heading
    line right above it ("Your choices:") when there is one, else ``first``."""
    k = first - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    heading = lines[k].strip() if k >= 0 else ""
    is_heading = (
        heading
        and len(heading) <= 80
        and not heading.endswith(".")
        and (_HEADING.match(heading) or (heading.endswith(":") and len(heading) <= 60))
    )
    return k if is_heading else first


def _final_block(lines: list[str]) -> ChoiceExtraction | None:
    """Recogniser: the last block of choice lines, possibly followed by one short remark
    ("Choose wisely!"); bullets count only when there are at least two."""
    last = _last_filled(lines)
    if last < 0:
        return None
    block = _block_above(lines, last + 1)
    if not block:  # a trailing free-text line after the block is tolerated
        block = _block_above(lines, last) if len(lines[last]) < 80 else []
        if len(block) < MIN_CHOICES:
            return None
    if len(block) < MIN_CHOICES and all(_NUMBERED.match(lines[n]) is None for n in block):
        return None
    choices, dropped = _dedupe([_line_choice(lines[n]) or "" for n in block])
    narrative = "\n".join(lines[: _heading_above(lines, block[0])]).strip()
    return ChoiceExtraction(narrative=narrative, choices=choices, dropped=dropped)


def _inline_run(lines: list[str]) -> ChoiceExtraction | None:
    """Recogniser: choices run together on one line ("1. Left 2. Right"); the last such line wins."""
    for n in range(len(lines) - 1, -1, -1):
        split = _split_inline(lines[n])
        if split is None:
            continue
        prefix, raw = split
        choices, dropped = _dedupe(raw)
        kept = lines[:n] + ([prefix] if prefix and not _HEADING.match(prefix) else [])
        return ChoiceExtraction(narrative="\n".join(kept).strip(), choices=choices, dropped=dropped)
    return None


#: The recognisers :func:`extract_choices` tries, in order; the first that finds choices wins.
RECOGNISERS: tuple[Callable[[list[str]], ChoiceExtraction | None], ...] = (_final_block, _inline_run)


def extract_choices(text: str) -> ChoiceExtraction:
    """Split a model's answer into narrative and choices (see the module doc).

    The answer's lines go through :data:`RECOGNISERS` (a final block of choice lines,
    then choices run together on one line); when none finds choices the whole text is
    narrative.

    Args:
        text: the whole answer.

    Returns:
        The narrative without choice lines and the cleaned choices (0 to 4 of them).
    """
    lines = text.replace("\r\n", "\n").split("\n")
    for recognise in RECOGNISERS:
        found = recognise(lines)
        if found is not None:
            return found
    return ChoiceExtraction(narrative=text.strip(), choices=[])


class ChoiceList(BaseModel):
    """Exactly three short choices for the reader (the structured re-ask)."""

    choices: list[Annotated[str, StringConstraints(min_length=2, max_length=80, strip_whitespace=True)]] = Field(
        min_length=3,
        max_length=3,
        description="exactly 3 short choices (2-10 words each) for what the hero does next, in the story's language",
    )


_DEFAULTS: dict[str, list[str]] = {
    "en": ["Go forward", "Look around carefully", "Turn back"],
    "uk": ["Іти вперед", "Уважно роззирнутися", "Повернути назад"],
    "ru": ["Идти вперёд", "Внимательно осмотреться", "Повернуть назад"],
    "fr": ["Avancer", "Regarder attentivement autour", "Faire demi-tour"],
    "de": ["Weitergehen", "Sich genau umsehen", "Umkehren"],
    "es": ["Seguir adelante", "Mirar alrededor con atención", "Dar la vuelta"],
    "it": ["Andare avanti", "Guardarsi intorno con attenzione", "Tornare indietro"],
    "pl": ["Iść naprzód", "Uważnie się rozejrzeć", "Zawrócić"],
    "pt": ["Seguir em frente", "Olhar em volta com atenção", "Voltar atrás"],
}


def default_choices(language: str) -> list[str]:
    """Three neutral choices in ``language`` (BCP-47; English when unknown)."""
    primary = language.split("-")[0].lower()
    return list(_DEFAULTS.get(primary, _DEFAULTS["en"]))


def finalize_choices(choices: list[str], language: str) -> list[str]:
    """Clean, deduplicate and cap ``choices``; pad with :func:`default_choices` up to
    :data:`MIN_CHOICES` so there are always 2-4."""
    out, _ = _dedupe(list(choices))
    for extra in default_choices(language):
        if len(out) >= MIN_CHOICES:
            break
        if extra.casefold() not in {c.casefold() for c in out}:
            out.append(extra)
    return out[:MAX_CHOICES]
