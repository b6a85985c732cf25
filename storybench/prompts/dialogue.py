"""Dialogue writing: characters + context + a dialogue type → N lines, each with a speaker.

The request is structured: speakers are an enum of the given character ids, lines
have a length bound, and the line count is fixed (``minItems = maxItems``).
Archetypes, dialogue types, times of day and moods are data
(``dialogue_presets.json``), listed by :func:`list_dialogue_presets`.
:func:`write_dialogue_into` distributes lines over panels in reading order.

Example::

    speakers = speakers_from_plan(plan, ["ch1-p1-pan2", "ch1-p1-pan3"])
    lines = write_dialogue(speakers, DialogueContext(location="rooftop", mood="tense"), "conflict", 4)
    plan = write_dialogue_into(plan, ["ch1-p1-pan2", "ch1-p1-pan3"], lines)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from storybench.exceptions import ConfigError, StructuredOutputError
from storybench.llm.base import LLMBackend, Message, resolve_llm
from storybench.llm.salvage import clip, extract_json
from storybench.plan.ids import resolve_character
from storybench.plan.models import ComicPlan, Dialogue, PanelPlan
from storybench.prompts.language import language_name

__all__ = [
    "MAX_LINE_CHARS",
    "DialogueContext",
    "DialogueLine",
    "Speaker",
    "context_from_panel",
    "dialogue_messages",
    "list_dialogue_presets",
    "speakers_from_plan",
    "write_dialogue",
    "write_dialogue_into",
]

MAX_LINE_CHARS = 120


@lru_cache(maxsize=1)
def _presets() -> dict[str, Any]:
    text = resources.files("storybench.prompts").joinpath("dialogue_presets.json").read_text(encoding="utf-8")
    return json.loads(text)


def list_dialogue_presets() -> dict[str, Any]:
    """The presets as data: ``{"archetypes": {id: description}, "dialogue_types": {id: description},
    "times_of_day": [...], "moods": [...]}`` (a fresh copy each call)."""
    return json.loads(json.dumps(_presets()))


@dataclass(frozen=True)
class Speaker:
    """A character in a dialogue.

    Attributes:
        id: the character id (a plan character id when writing into a plan).
        name: display name.
        archetype: an archetype id from the presets (``"mentor"``) or ``""``.
        personality: free text; used with or instead of the archetype.
    """

    id: str
    name: str
    archetype: str = ""
    personality: str = ""

    def describe(self) -> str:
        """One line for the prompt: id, name, archetype and personality."""
        parts = []
        if self.archetype:
            desc = _presets()["archetypes"].get(self.archetype, "")
            parts.append(f"{self.archetype}" + (f" — {desc}" if desc else ""))
        if self.personality:
            parts.append(self.personality)
        return f"{self.id}: {self.name}" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class DialogueContext:
    """Where and when the dialogue happens (all optional, plain text)."""

    location: str = ""
    time_of_day: str = ""
    situation: str = ""
    mood: str = ""


class DialogueLine(BaseModel):
    """One line of an answer: the speaker's id and the text."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    speaker: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=MAX_LINE_CHARS)


class _LinesAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lines: list[DialogueLine]


def _answer_model(speaker_ids: Sequence[str], n_lines: int) -> type[_LinesAnswer]:
    ids = tuple(dict.fromkeys(speaker_ids))
    speaker_type: Any = Literal[ids]  # built at run time: one enum per call
    line_model = create_model(
        "DialogueLine", __base__=DialogueLine, speaker=(speaker_type, Field(description="speaker id"))
    )
    return create_model(
        "DialogueAnswer",
        __base__=_LinesAnswer,
        lines=(list[line_model], Field(min_length=n_lines, max_length=n_lines)),
    )


def _check(speakers: Sequence[Speaker], dialogue_type: str, n_lines: int) -> None:
    if not speakers:
        raise ConfigError("write_dialogue: at least one speaker is needed")
    if len({s.id for s in speakers}) != len(speakers):
        raise ConfigError("write_dialogue: speaker ids must be unique")
    types = _presets()["dialogue_types"]
    if dialogue_type not in types:
        raise ConfigError(f"write_dialogue: unknown dialogue type {dialogue_type!r}; known: {', '.join(types)}")
    archetypes = _presets()["archetypes"]
    for s in speakers:
        if s.archetype and s.archetype not in archetypes:
            raise ConfigError(
                f"write_dialogue: speaker {s.id!r} has unknown archetype {s.archetype!r}; known: "
                f"{', '.join(archetypes)}"
            )
    if not 1 <= n_lines <= 12:
        raise ConfigError(f"write_dialogue: n_lines must be 1..12, got {n_lines}")


def dialogue_messages(
    speakers: Sequence[Speaker], context: DialogueContext, dialogue_type: str, n_lines: int, language: str = "en"
) -> list[Message]:
    """The chat messages of a dialogue request."""

    ctx = [f"{k.replace('_', ' ')}: {v}" for k, v in vars(context).items() if v]
    user = (
        "Characters (use these ids as speakers):\n"
        + "\n".join(f"- {s.describe()}" for s in speakers)
        + "\n"
        + ("Context: " + "; ".join(ctx) + "\n" if ctx else "")
        + f"Dialogue type: {dialogue_type} — {_presets()['dialogue_types'][dialogue_type]}.\n"
        + f"Write exactly {n_lines} comic balloon lines in {language_name(language)}, each at most "
        + f"{MAX_LINE_CHARS} characters, each in the voice of its speaker. "
        + 'Answer as JSON: {"lines": [{"speaker": id, "text": ...}]}'
    )
    return [
        Message(role="system", content="You write short, punchy comic book dialogue. Answer with JSON only."),
        Message(role="user", content=user),
    ]


def write_dialogue(
    speakers: Sequence[Speaker],
    context: DialogueContext,
    dialogue_type: str,
    n_lines: int = 4,
    *,
    llm: LLMBackend | str | None = None,
    language: str = "en",
    seed: int | None = None,
    attempts: int = 2,
    max_tokens: int | None = None,
) -> list[Dialogue]:
    """Write ``n_lines`` lines of dialogue.

    Args:
        speakers: who talks (ids become the lines' ``character``).
        context: location, time of day, situation, mood.
        dialogue_type: a dialogue type id from the presets (``"conflict"``, ``"banter"``...).
        n_lines: 1..12 lines.
        llm: backend object or registered name (``None``: the default backend).
        language: BCP-47 code of the lines.
        seed: sampler seed.
        attempts: tries before the last answer is repaired.
        max_tokens: token budget (default 40 + 60 per line).

    Returns:
        The lines as :class:`~storybench.plan.models.Dialogue`, each spoken by one of ``speakers``.

    Raises:
        ConfigError: no speakers, duplicate ids, unknown dialogue type or archetype, bad ``n_lines``.
        StructuredOutputError: no attempt validated and no line of the last one was usable.
        BackendError: other backend failures.
    """

    _check(speakers, dialogue_type, n_lines)
    backend = resolve_llm(llm)
    model = _answer_model([s.id for s in speakers], n_lines)
    options: dict[str, Any] = {"max_tokens": max_tokens or 40 + 60 * n_lines}
    if seed is not None:
        options["seed"] = seed
    messages = dialogue_messages(speakers, context, dialogue_type, n_lines, language)
    try:
        answer = backend.structured(messages, model, attempts=attempts, **options)
        return [Dialogue(character=line.speaker, text=line.text) for line in answer.lines]
    except StructuredOutputError as exc:
        lines = _salvage_lines(exc.last_output, speakers)
        if not lines:
            raise
        return lines[:n_lines]


def _salvage_lines(last_output: str | None, speakers: Sequence[Speaker]) -> list[Dialogue]:
    """The usable lines of a last answer that did not validate (known speaker, non-empty text)."""
    raw = extract_json(last_output)
    pairs = [(s.id, s.name) for s in speakers]
    items = raw.get("lines") if isinstance(raw, dict) else None
    lines = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        cid = resolve_character(item.get("speaker", item.get("character")), pairs)
        text = clip(item.get("text"), MAX_LINE_CHARS)
        if cid and text:
            lines.append(Dialogue(character=cid, text=text))
    return lines


def speakers_from_plan(plan: ComicPlan, panel_ids: Sequence[str]) -> list[Speaker]:
    """Speakers for the characters present in ``panel_ids`` (all plan characters when
    none are present), the character's role as personality (and as archetype when it
    names one).

    Raises:
        KeyError: a panel id is not in the plan.
    """
    panels = [_find_panel(plan, pid) for pid in panel_ids]
    present = list(dict.fromkeys(cid for p in panels for cid in p.characters)) or [c.id for c in plan.characters]
    archetypes = _presets()["archetypes"]
    out = []
    for cid in present:
        c = plan.character(cid)
        role = c.role.strip().lower()
        out.append(Speaker(id=c.id, name=c.name, archetype=role if role in archetypes else "", personality=c.role))
    return out


def context_from_panel(panel: PanelPlan) -> DialogueContext:
    """A dialogue context from a panel's location, mood and action."""
    return DialogueContext(location=panel.location, situation=panel.action, mood=panel.mood)


def _find_panel(plan: ComicPlan, panel_id: str) -> PanelPlan:
    for _, page in plan.pages():
        for p in page.panels:
            if p.id == panel_id:
                return p
    raise KeyError(f"no panel {panel_id!r} in plan {plan.id!r}")


def _give_lines(panel: PanelPlan, lines: Sequence[Dialogue], replace: bool) -> None:
    """Set (or extend) ``panel``'s dialogue with copies of ``lines``; speakers join its characters."""
    chunk = [Dialogue(character=d.character, text=d.text) for d in lines]
    panel.dialogue = chunk if replace else list(panel.dialogue) + chunk
    for d in chunk:
        if d.character not in panel.characters:
            panel.characters = [*panel.characters, d.character]


def write_dialogue_into(
    plan: ComicPlan, panel_ids: Sequence[str], lines: Sequence[Dialogue], *, replace: bool = True
) -> ComicPlan:
    """A copy of ``plan`` with ``lines`` distributed over ``panel_ids`` in order.

    Lines are split into consecutive runs, as even as possible, earlier panels
    taking the extra line (4 lines on 3 panels: 2, 1, 1). A speaker who is not in
    a panel's characters is added to them (the balloon's tail needs someone to
    point at).

    Args:
        replace: replace the panels' dialogue (``True``) or append to it.

    Raises:
        KeyError: a panel id is not in the plan, or a speaker is not a plan character.
        ValueError: ``panel_ids`` is empty.
    """
    if not panel_ids:
        raise ValueError("write_dialogue_into: no panels given")
    known = {c.id for c in plan.characters}
    for line in lines:
        if line.character not in known:
            raise KeyError(f"speaker {line.character!r} is not a character of plan {plan.id!r}")
    new = plan.model_copy(deep=True)
    panels = [_find_panel(new, pid) for pid in panel_ids]
    n, k = len(lines), len(panels)
    start = 0
    for i, panel in enumerate(panels):
        size = n // k + (1 if i < n % k else 0)
        _give_lines(panel, lines[start : start + size], replace)
        start += size
    return new
