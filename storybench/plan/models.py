"""The comic plan: pydantic v2 models and the rules a plan must keep.

JSON uses camelCase (``pageNumber``) so plans interoperate with TypeScript tools
that share the same interfaces; loading also accepts snake_case (``page_number``).

The models check types and the shape of ids; the rules that span the plan (panel
counts per layout, positions, references, page numbering) are checked by
:func:`plan_issues`, so an editor can hold a plan that is momentarily invalid and
list what is wrong. :func:`storybench.plan.loading.parse_plan` applies both and raises
:class:`~storybench.exceptions.PlanValidationError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from storybench.deprecation import rename_keys
from storybench.exceptions import PlanIssue
from storybench.plan.defaults import DEFAULT_LANGUAGE, fill_defaults
from storybench.plan.layouts import TEMPLATES, TemplateId
from storybench.plan.styles import STYLES
from storybench.plan.text import check_file_name_id, multi_line, show_value, single_line

__all__ = [
    "MAX_PAGES",
    "Chapter",
    "Character",
    "ComicPlan",
    "Dialogue",
    "Page",
    "PanelPlan",
    "derive_seed",
    "plan_issues",
]

MAX_PAGES = 20
#: The release that stops accepting the plan fields listed in ``renamed_fields``.
RENAMED_REMOVED_IN = "0.3"
SEED_MAX = 2**31 - 1

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def _safe_id(value: str) -> str:
    """Ids become parts of file names: no separators, no ``..``, no control characters."""
    if len(value) > 80 or not _SAFE_ID.match(value) or ".." in value:
        raise ValueError(
            f"id {show_value(value)} is not usable in file names "
            "(letters, digits, '.', '_' and '-' only, at most 80, no '..', not starting with a symbol)"
        )
    return check_file_name_id(value)


def _slug(value: str) -> str:
    if len(value) > 80 or not _SLUG.match(value):
        raise ValueError(
            f"plan id {show_value(value)} must be a slug: lowercase letters and digits joined by single '-', at most 80"
        )
    return check_file_name_id(value)


def _language(value: str) -> str:
    if len(value) > 35 or not _BCP47.match(value):
        raise ValueError(f"language {show_value(value)} is not a BCP-47 code such as 'en', 'uk' or 'pt-BR'")
    return value


SafeId = Annotated[str, AfterValidator(_safe_id)]
Slug = Annotated[str, AfterValidator(_slug)]
Language = Annotated[str, AfterValidator(_language)]
#: One line of text: tabs become spaces; control characters and line separators are refused.
Line = Annotated[str, AfterValidator(single_line)]
#: Text that may hold line breaks (normalised to "\n"); other control characters are refused.
Text = Annotated[str, AfterValidator(multi_line)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        validate_assignment=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    #: JSON fields of this model that were renamed, ``{old: new}``: a plan written with the old
    #: name still loads, with a :class:`~storybench.deprecation.StorybenchDeprecationWarning`
    #: naming the new one, until :data:`RENAMED_REMOVED_IN` (CHANGELOG.md lists them).
    renamed_fields: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_renamed_fields(cls, data: Any) -> Any:
        """Rename deprecated JSON keys to their new names before validation (warns once per key)."""
        if not cls.renamed_fields:
            return data
        return rename_keys(data, cls.renamed_fields, removed_in=RENAMED_REMOVED_IN)


class Dialogue(_Model):
    """One line of dialogue: ``character`` is a character id, ``text`` what they say."""

    character: SafeId = Field(description="id of the speaking character")
    text: Text = Field(description="what the character says, in the plan's language", max_length=400)


class PanelPlan(_Model):
    """One panel: who is in it, what happens, how it is framed, and its lettering.

    ``position`` is the panel's place in the page layout, 1-based in reading order.
    """

    id: SafeId = Field(description="unique panel id, e.g. 'ch1-p1-pan1'")
    position: int = Field(ge=1, description="1-based place in the page layout, in reading order")
    characters: list[SafeId] = Field(default_factory=list, description="ids of the characters visible in the panel")
    action: Text = Field(description="what happens, as a visual description", max_length=600)
    location: Text = Field(default="", description="where it happens, with time of day", max_length=300)
    mood: Line = Field(default="", description="emotional tone, e.g. 'tense'", max_length=80)
    camera: Line = Field(default="medium shot", description="shot type, e.g. 'close-up', 'wide shot'", max_length=80)
    dialogue: list[Dialogue] = Field(default_factory=list, description="speech balloons in reading order")
    narrative: Text | None = Field(default=None, description="caption box text, or null", max_length=600)
    sfx: Line | None = Field(default=None, description="sound effect lettering such as 'BOOM!', or null", max_length=40)
    seed: int | None = Field(
        default=None, ge=0, le=SEED_MAX, description="the picked candidate's sampler seed, or null (derived)"
    )

    @model_serializer(mode="wrap")
    def _leave_out_unset_seed(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``seed`` is left out of the JSON while unset, so older plans keep their SHA-256."""
        data: dict[str, Any] = handler(self)
        if self.seed is None:
            data.pop("seed", None)
        return data


class Page(_Model):
    """A page: its number in the comic, its layout template and its panels.

    ``source_segments`` (JSON ``sourceSegments``) names the story segments a page was
    planned from (:func:`storybench.planner.from_story.plan_from_story`); it is left out
    of the JSON while empty, so older plans keep their SHA-256.
    """

    id: SafeId
    page_number: int = Field(ge=1, description="1-based page number across the whole comic")
    layout: TemplateId = Field(description="layout template id; fixes the number of panels")
    panels: list[PanelPlan]
    source_segments: list[SafeId] = Field(default_factory=list, description="story segment ids the page comes from")

    @model_serializer(mode="wrap")
    def _leave_out_no_sources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.source_segments:
            data.pop("sourceSegments", None)
            data.pop("source_segments", None)
        return data


class Chapter(_Model):
    """A chapter: a titled run of pages."""

    id: SafeId
    title: Line = Field(max_length=200)
    pages: list[Page]


class Character(_Model):
    """A character. ``seed`` keeps their look consistent; it is derived when absent and then kept."""

    id: SafeId = Field(description="unique character id, e.g. 'char-1'")
    name: Line = Field(max_length=120)
    appearance: Text = Field(description="face, hair, build, age", max_length=600)
    clothing: Text = Field(default="", description="default outfit", max_length=400)
    role: Text = Field(default="", description="role in the story", max_length=200)
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX, description="consistency seed")


class ComicPlan(_Model):
    """A whole comic plan.

    Attributes:
        id: a slug, used in output folder names; derived from the title when absent.
        language: BCP-47 code of the lettering (``"en"``, ``"uk"``); ``"uk"`` (or
            ``STORYBENCH_DEFAULT_LANGUAGE``) when absent, as seed 002's planner defaults.
        style: a style id from :data:`storybench.plan.styles.STYLES`.
        author: the comic's author for the exports' metadata; ``""`` (left out of the
            JSON, so older plans keep their SHA-256): the ``author`` setting, else none.
    """

    id: Slug
    title: Line = Field(max_length=200)
    style: Line = Field(max_length=80)
    language: Language = DEFAULT_LANGUAGE
    author: Line = Field(default="", max_length=200, description="the comic's author, or empty")
    characters: list[Character] = Field(default_factory=list)
    chapters: list[Chapter]

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """Plans as Kitsumy's planner writes them: no id, no language (see :mod:`storybench.plan.defaults`)."""
        if isinstance(data, dict):
            data, _ = fill_defaults(data)
        return data

    @model_validator(mode="after")
    def _fill_seeds(self) -> ComicPlan:
        for character in self.characters:
            if character.seed is None:
                character.seed = derive_seed(self.id, character.id)
        return self

    # -- navigation ---------------------------------------------------------
    def pages(self) -> Iterator[tuple[Chapter, Page]]:
        """Every page with its chapter, in order."""
        for chapter in self.chapters:
            for page in chapter.pages:
                yield chapter, page

    def page_count(self) -> int:
        """Number of pages in the plan."""
        return sum(len(c.pages) for c in self.chapters)

    def panel_count(self) -> int:
        """Number of panels in the plan."""
        return sum(len(p.panels) for _, p in self.pages())

    def character(self, character_id: str) -> Character:
        """The character with that id.

        Raises:
            KeyError: no such character.
        """
        for c in self.characters:
            if c.id == character_id:
                return c
        raise KeyError(f"no character {character_id!r} in plan {self.id!r}")

    def to_json_dict(self) -> dict:
        """The plan as a JSON-ready dict with camelCase keys."""
        return self.model_dump(mode="json", by_alias=True, exclude=None if self.author else {"author"})

    def to_json(self, indent: int = 2) -> str:
        """The plan as camelCase JSON text (UTF-8 characters kept as is)."""
        return json.dumps(self.to_json_dict(), ensure_ascii=False, indent=indent) + "\n"

    def sha256(self) -> str:
        """Hex SHA-256 of the plan's canonical JSON (sorted keys, no whitespace)."""
        canonical = json.dumps(self.to_json_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def derive_seed(*parts: str) -> int:
    """A stable seed in ``0..2**31-1`` from strings (SHA-256 of the parts joined by NUL)."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (SEED_MAX + 1)


def _short_list(values: list[int], limit: int = 12) -> str:
    shown = ", ".join(show_value(v) for v in values[:limit])
    return f"[{shown}{', …' if len(values) > limit else ''}]"


class _RuleCheck:
    """One pass over a plan in reading order, collecting the rules it breaks."""

    def __init__(self, plan: ComicPlan) -> None:
        self.plan = plan
        self.issues: list[PlanIssue] = []
        self.seen: dict[str, str] = {}  # id -> the path where it was first used
        self.character_ids: set[str] = set()

    def add(self, path: str, msg: str, value: Any = None) -> None:
        self.issues.append(PlanIssue(path, msg, value))

    def unique(self, path: str, ident: str) -> None:
        if ident in self.seen:
            self.add(path, f"id {ident!r} is already used at {self.seen[ident]}", ident)
        else:
            self.seen[ident] = path

    def run(self) -> list[PlanIssue]:
        self._whole()
        self._characters()
        expected_number = 1
        for ci, chapter in enumerate(self.plan.chapters):
            expected_number = self._chapter(f"chapters[{ci}]", chapter, expected_number)
        return self.issues

    def _whole(self) -> None:
        plan = self.plan
        if plan.style not in STYLES:
            self.add("style", f"unknown style {show_value(plan.style)}; known: {', '.join(STYLES)}", plan.style)
        if not plan.chapters:
            self.add("chapters", "a plan needs at least one chapter", [])
        total = plan.page_count()
        if not 1 <= total <= MAX_PAGES:
            self.add("chapters", f"a plan has 1 to {MAX_PAGES} pages, got {total}", total)

    def _characters(self) -> None:
        for i, c in enumerate(self.plan.characters):
            self.unique(f"characters[{i}].id", c.id)
            self.character_ids.add(c.id)
            if not c.name:
                self.add(f"characters[{i}].name", "a character needs a name", c.name)

    def _chapter(self, cpath: str, chapter: Chapter, expected_number: int) -> int:
        """Check ``chapter`` whose first page should be ``expected_number``; the next page's number."""
        self.unique(f"{cpath}.id", chapter.id)
        if not chapter.pages:
            self.add(f"{cpath}.pages", "a chapter needs at least one page", [])
        for pi, page in enumerate(chapter.pages):
            self._page(f"{cpath}.pages[{pi}]", page, expected_number)
            expected_number += 1
        return expected_number

    def _page(self, ppath: str, page: Page, expected_number: int) -> None:
        self.unique(f"{ppath}.id", page.id)
        if page.page_number != expected_number:
            self.add(
                f"{ppath}.pageNumber",
                f"page numbers must be consecutive: expected {expected_number}, got {page.page_number}",
                page.page_number,
            )
        self._panel_layout(ppath, page)
        for ki, panel in enumerate(page.panels):
            self._panel(f"{ppath}.panels[{ki}]", panel)

    def _panel_layout(self, ppath: str, page: Page) -> None:
        need = TEMPLATES[page.layout].panel_count
        if len(page.panels) != need:
            self.add(
                f"{ppath}.panels",
                f"layout {page.layout!r} needs {need} panels, got {len(page.panels)}",
                len(page.panels),
            )
        positions = sorted(p.position for p in page.panels)
        if positions != list(range(1, len(page.panels) + 1)):
            self.add(
                f"{ppath}.panels",
                f"positions must be 1..{len(page.panels)} without gaps or repeats, got {_short_list(positions)}",
                positions,
            )

    def _panel(self, kpath: str, panel: PanelPlan) -> None:
        self.unique(f"{kpath}.id", panel.id)
        if not panel.action:
            self.add(f"{kpath}.action", "a panel needs an action", panel.action)
        for ri, ref in enumerate(panel.characters):
            if ref not in self.character_ids:
                self.add(f"{kpath}.characters[{ri}]", f"unknown character {ref!r}", ref)
        for di, line in enumerate(panel.dialogue):
            if line.character not in self.character_ids:
                self.add(f"{kpath}.dialogue[{di}].character", f"unknown speaker {line.character!r}", line.character)
            if not line.text:
                self.add(f"{kpath}.dialogue[{di}].text", "a dialogue line needs text", line.text)


def plan_issues(plan: ComicPlan) -> list[PlanIssue]:
    """Check the rules that span the plan; an empty list means the plan is valid.

    Rules: the style exists; 1 to 20 pages; page numbers run 1, 2, 3... in order;
    each page has as many panels as its layout needs, at positions 1..n without
    gaps; every id is unique in the plan; every panel character and dialogue
    speaker is a character of the plan; actions and dialogue lines are not empty.

    Returns:
        One :class:`~storybench.exceptions.PlanIssue` per broken rule, each naming
        its JSON path (e.g. ``chapters[0].pages[1].panels``) and the offending value.
    """
    return _RuleCheck(plan).run()
