"""The answer models of the three planning stages.

Each stage asks the LLM for JSON constrained by one of these models' JSON Schema,
then validates the answer into the model. Limits are small on purpose (short
``maxLength``, bounded ``maxItems``, enums for layout, camera and character ids):
they keep a 135M-parameter embedded model inside a valid plan and stop a runaway
string from stalling a constrained request.

Static models (:class:`CharacterDraft`, :class:`PageDraft`, ...) describe the
shapes; the ``*_answer_model`` functions build the per-request models whose
bounds depend on the request (how many chapters, how many panels on this page,
which character ids exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model

from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES, TemplateId

__all__ = [
    "CAMERA_SHOTS",
    "LAYOUT_PREFERENCE",
    "LIMITS",
    "CameraShot",
    "ChapterDraft",
    "CharacterDraft",
    "CharactersAnswer",
    "DialogueDraft",
    "LayoutId",
    "PageCountRule",
    "PageDraft",
    "PanelDraft",
    "PanelsAnswer",
    "StructureAnswer",
    "characters_answer_model",
    "page_count_rule",
    "panels_answer_model",
    "structure_answer_model",
]

CameraShot = Literal[
    "extreme close-up",
    "close-up",
    "medium shot",
    "cowboy shot",
    "full shot",
    "wide shot",
    "extreme wide shot",
    "over-the-shoulder",
    "low angle",
    "high angle",
    "bird's-eye",
    "dutch angle",
    "POV",
]
#: Camera shot names offered to the model and in the editor's dropdown, tight to wide.
CAMERA_SHOTS: tuple[str, ...] = get_args(CameraShot)

LayoutId = TemplateId

#: Layouts in the order they are offered to the model.
LAYOUT_PREFERENCE: tuple[str, ...] = (
    "big-top",
    "grid-2x2",
    "three-rows",
    "big-left",
    "big-bottom",
    "big-right",
    "two-horizontal",
    "strip-3",
    "two-vertical",
    "action",
    "manga-3",
    "single",
)
assert sorted(LAYOUT_PREFERENCE) == sorted(TEMPLATE_IDS)


@dataclass(frozen=True)
class _Limits:
    """Character limits of the stage answers (characters of text, items of lists)."""

    name: int = 30
    appearance: int = 120
    clothing: int = 80
    role: int = 40
    title: int = 50
    summary: int = 140
    action: int = 140
    location: int = 60
    mood: int = 20
    line: int = 100
    narrative: int = 120
    sfx: int = 16
    characters: int = 4
    lines_per_panel: int = 2
    cast_per_panel: int = 3
    min_text: int = 3


LIMITS = _Limits()


class _Draft(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# -- stage 1: characters ------------------------------------------------------
class CharacterDraft(_Draft):
    """One character as the model proposes it (the code assigns id and seed)."""

    name: str = Field(min_length=1, max_length=LIMITS.name, description="short name")
    appearance: str = Field(
        min_length=LIMITS.min_text, max_length=LIMITS.appearance, description="face, hair, build, age; in English"
    )
    clothing: str = Field(default="", max_length=LIMITS.clothing, description="default outfit; in English")
    role: str = Field(default="", max_length=LIMITS.role, description="role in the story, e.g. 'hero'")


class CharactersAnswer(_Draft):
    """Stage 1 answer: the cast."""

    characters: list[CharacterDraft] = Field(min_length=1, max_length=LIMITS.characters)


def characters_answer_model(max_characters: int = LIMITS.characters) -> type[CharactersAnswer]:
    """The stage 1 model with at most ``max_characters`` characters (1..4)."""
    n = max(1, min(LIMITS.characters, max_characters))
    return create_model(
        "CharactersAnswer",
        __base__=CharactersAnswer,
        characters=(list[CharacterDraft], Field(min_length=1, max_length=n)),
    )


# -- stage 2: structure ---------------------------------------------------------
@dataclass(frozen=True)
class PageCountRule:
    """How many chapters and pages a plan of ``max_pages`` pages may have.

    Attributes:
        max_pages: the requested upper bound of pages.
        min_pages, max_pages_total: total pages allowed (inclusive).
        min_chapters, max_chapters: chapters allowed (inclusive).
        max_panels: most panels a page may have (4 for a one-page comic, else 5).
        max_characters: most characters stage 1 may propose (2 for one page, 3 for 2-3, else 4).
    """

    max_pages: int
    min_pages: int
    max_pages_total: int
    min_chapters: int
    max_chapters: int
    max_panels: int
    max_characters: int = 4

    @property
    def layouts(self) -> tuple[str, ...]:
        """Layout ids allowed on a page under this rule, everyday comic pages first
        (small models tend to pick the first enum value; a splash page should be a choice)."""
        return tuple(t for t in LAYOUT_PREFERENCE if TEMPLATES[t].panel_count <= self.max_panels)


def page_count_rule(max_pages: int) -> PageCountRule:
    """The chapter and page bounds for ``max_pages``.

    1 page: 1 chapter, 1 page of 1-4 panels; 2-3: 1 chapter, 2-3 pages; 4-10: 1-2
    chapters; 11-20: 2-4 chapters. At least half of ``max_pages`` pages are asked for.

    Raises:
        ValueError: ``max_pages`` is outside 1..20.
    """
    if not 1 <= max_pages <= 20:
        raise ValueError(f"max_pages must be 1..20, got {max_pages}")
    if max_pages == 1:
        return PageCountRule(1, 1, 1, 1, 1, 4, max_characters=2)
    if max_pages <= 3:
        return PageCountRule(max_pages, 2, max_pages, 1, 1, 5, max_characters=3)
    min_pages = (max_pages + 1) // 2
    if max_pages <= 10:
        return PageCountRule(max_pages, min_pages, max_pages, 1, 2, 5)
    return PageCountRule(max_pages, min_pages, max_pages, 2, 4, 5)


class PageDraft(_Draft):
    """One page of the structure: what happens on it and its layout."""

    summary: str = Field(min_length=LIMITS.min_text, max_length=LIMITS.summary, description="what happens on this page")
    layout: LayoutId = Field(description="page layout template; fixes the number of panels")


class ChapterDraft(_Draft):
    """One chapter of the structure."""

    title: str = Field(min_length=1, max_length=LIMITS.title)
    pages: list[PageDraft] = Field(min_length=1)


class StructureAnswer(_Draft):
    """Stage 2 answer: the comic's title and its chapters with pages."""

    title: str = Field(min_length=1, max_length=LIMITS.title)
    chapters: list[ChapterDraft] = Field(min_length=1)


def structure_answer_model(rule: PageCountRule) -> type[StructureAnswer]:
    """The stage 2 model for ``rule``: chapter count, pages per chapter and the
    allowed layouts are in the schema (the total page count is checked by the code)."""
    layout_type: Any = Literal[rule.layouts]  # built at run time: the layouts this rule allows
    per_chapter_max = -(-rule.max_pages_total // rule.min_chapters)
    per_chapter_min = max(1, -(-rule.min_pages // rule.max_chapters))
    page_model = create_model(
        "PageDraft",
        __base__=PageDraft,
        layout=(layout_type, Field(description="page layout template; fixes the number of panels")),
    )
    chapter_model = create_model(
        "ChapterDraft",
        __base__=ChapterDraft,
        pages=(list[page_model], Field(min_length=per_chapter_min, max_length=per_chapter_max)),
    )
    return create_model(
        "StructureAnswer",
        __base__=StructureAnswer,
        chapters=(
            list[chapter_model],
            Field(min_length=rule.min_chapters, max_length=rule.max_chapters),
        ),
    )


# -- stage 3: panels ------------------------------------------------------------
class DialogueDraft(_Draft):
    """One speech balloon: a character id and the line, in the plan's language."""

    speaker: str = Field(min_length=1, max_length=80, description="id of the speaking character")
    text: str = Field(min_length=1, max_length=LIMITS.line, description="the line, in the plan language")


class PanelDraft(_Draft):
    """One panel as the model proposes it (the code assigns id and position)."""

    characters: list[str] = Field(default_factory=list, max_length=LIMITS.cast_per_panel)
    action: str = Field(min_length=LIMITS.min_text, max_length=LIMITS.action, description="what is seen; in English")
    location: str = Field(
        min_length=LIMITS.min_text, max_length=LIMITS.location, description="where and when; in English"
    )
    mood: str = Field(default="", max_length=LIMITS.mood)
    camera: CameraShot = "medium shot"
    dialogue: list[DialogueDraft] = Field(default_factory=list, max_length=LIMITS.lines_per_panel)
    narrative: str = Field(default="", max_length=LIMITS.narrative, description="caption text or ''")
    sfx: str = Field(default="", max_length=LIMITS.sfx, description="sound effect lettering or ''")


class PanelsAnswer(_Draft):
    """Stage 3 answer: the panels of one page."""

    panels: list[PanelDraft]


def panels_answer_model(panel_count: int, character_ids: list[str] | tuple[str, ...]) -> type[PanelsAnswer]:
    """The stage 3 model of one page: exactly ``panel_count`` panels
    (``minItems = maxItems``), and character ids and speakers as enums of
    ``character_ids`` (with no characters, panels have no cast and no dialogue).
    Pages of 4 or more panels get shorter text limits (action 100, caption 80,
    lines 80 characters) so the whole answer stays small for embedded models.

    Raises:
        ValueError: ``panel_count`` is below 1.
    """
    if panel_count < 1:
        raise ValueError(f"panel_count must be at least 1, got {panel_count}")
    compact = panel_count >= 4
    line_max = 80 if compact else LIMITS.line
    ids = tuple(dict.fromkeys(character_ids))
    if ids:
        id_type: Any = Literal[ids]
        dialogue_model = create_model(
            "DialogueDraft",
            __base__=DialogueDraft,
            speaker=(id_type, Field(description="id of the speaking character")),
            text=(str, Field(min_length=1, max_length=line_max, description="the line, in the plan language")),
        )
        cast_field: Any = (list[id_type], Field(default_factory=list, max_length=min(LIMITS.cast_per_panel, len(ids))))
        lines_field: Any = (list[dialogue_model], Field(default_factory=list, max_length=LIMITS.lines_per_panel))
    else:
        cast_field = (list[str], Field(default_factory=list, max_length=0))
        lines_field = (list[DialogueDraft], Field(default_factory=list, max_length=0))
    extra: dict[str, Any] = {}
    if compact:
        extra = {
            "action": (str, Field(min_length=LIMITS.min_text, max_length=100, description="what is seen; in English")),
            "narrative": (str, Field(default="", max_length=80, description="caption text or ''")),
        }
    panel_model = create_model("PanelDraft", __base__=PanelDraft, characters=cast_field, dialogue=lines_field, **extra)
    return create_model(
        "PanelsAnswer",
        __base__=PanelsAnswer,
        panels=(list[panel_model], Field(min_length=panel_count, max_length=panel_count)),
    )
