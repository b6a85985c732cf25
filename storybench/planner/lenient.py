"""Lenient pydantic models of the planner's raw LLM answers: anything in, clean typed data out.

The repair step (:mod:`storybench.planner.repair`) gets the decoded JSON of an answer that may
break every rule: a list where an object belongs, a number where text belongs, a missing field.
These models read it without ever failing: each text field is clipped to its limit by a
``BeforeValidator`` (:func:`~storybench.llm.salvage.clip`: one line, cut at a word boundary),
a non-list becomes ``[]``, a non-object item becomes an empty one, unknown keys are ignored.
What is *missing* stays empty (``""``): deciding how to fill it, and saying so in a note, is
the repair step's job.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from storybench.llm.salvage import clip
from storybench.planner.schemas import LIMITS

__all__ = [
    "RawCharacter",
    "RawCharacters",
    "RawLine",
    "RawPage",
    "RawPanel",
    "RawPanels",
    "RawStructure",
    "lenient",
]


def _clipper(limit: int) -> BeforeValidator:
    """A validator that makes anything one line of at most ``limit`` characters (``""`` for none)."""
    return BeforeValidator(partial(clip, limit=limit))


# Text fields of the answers, each clipped to its limit (LIMITS, in characters).
Name = Annotated[str, _clipper(LIMITS.name)]
Role = Annotated[str, _clipper(LIMITS.role)]
Appearance = Annotated[str, _clipper(LIMITS.appearance)]
Clothing = Annotated[str, _clipper(LIMITS.clothing)]
Title = Annotated[str, _clipper(LIMITS.title)]
Summary = Annotated[str, _clipper(LIMITS.summary)]
LineText = Annotated[str, _clipper(LIMITS.line)]
Action = Annotated[str, _clipper(LIMITS.action)]
Location = Annotated[str, _clipper(LIMITS.location)]
Mood = Annotated[str, _clipper(LIMITS.mood)]
Narrative = Annotated[str, _clipper(LIMITS.narrative)]
Sfx = Annotated[str, _clipper(LIMITS.sfx)]


def _objects(value: Any) -> list[dict[str, Any]]:
    """A list of objects: a non-list is ``[]``, a non-object item is ``{}`` (its place is kept)."""
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


def lenient(model: type[_Lenient], raw: Any) -> Any:
    """``model`` read from ``raw`` (anything: a non-object reads as ``{}``); never raises."""
    return model.model_validate(raw if isinstance(raw, dict) else {})


# -- stage 1 -------------------------------------------------------------------------
class RawCharacter(_Lenient):
    """One character of a stage 1 answer."""

    name: Name = ""
    role: Role = ""
    appearance: Appearance = ""
    clothing: Clothing = ""


class RawCharacters(_Lenient):
    """A stage 1 answer: ``listed`` is false when it had no character list at all."""

    characters: Annotated[list[RawCharacter], BeforeValidator(_objects)] = Field(default_factory=list)
    listed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _listed(cls, data: Any) -> Any:
        return {**data, "listed": isinstance(data.get("characters"), list)} if isinstance(data, dict) else data


# -- stage 2 -------------------------------------------------------------------------
class RawPage(_Lenient):
    """One page of a stage 2 answer: ``layout`` is kept as given (checked by the repair)."""

    summary: Summary = ""
    layout: Any = None


class RawChapter(_Lenient):
    """One chapter of a stage 2 answer."""

    title: Title = ""
    pages: Annotated[list[RawPage], BeforeValidator(_objects)] = Field(default_factory=list)


class RawStructure(_Lenient):
    """A stage 2 answer: the comic's title and its chapters of pages."""

    title: Title = ""
    chapters: Annotated[list[RawChapter], BeforeValidator(_objects)] = Field(default_factory=list)


# -- stage 3 -------------------------------------------------------------------------
class RawLine(_Lenient):
    """One dialogue line of a stage 3 answer: the speaker as given under ``speaker`` or ``character``."""

    text: LineText = ""
    speaker: Any = None

    @model_validator(mode="before")
    @classmethod
    def _speaker(cls, data: Any) -> Any:
        if isinstance(data, dict) and "speaker" not in data:
            return {**data, "speaker": data.get("character")}
        return data


class RawPanel(_Lenient):
    """One panel of a stage 3 answer; ``characters`` and ``camera`` as given (resolved by the repair)."""

    characters: Annotated[list[Any], BeforeValidator(_items)] = Field(default_factory=list)
    dialogue: Annotated[list[RawLine], BeforeValidator(_objects)] = Field(default_factory=list)
    action: Action = ""
    location: Location = ""
    mood: Mood = ""
    camera: Any = None
    narrative: Narrative = ""
    sfx: Sfx = ""


class RawPanels(_Lenient):
    """A stage 3 answer: the panels of one page."""

    panels: Annotated[list[RawPanel], BeforeValidator(_objects)] = Field(default_factory=list)
