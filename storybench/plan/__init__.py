"""The comic plan: models, rules, layouts and styles."""

from storybench.plan.defaults import DEFAULT_LANGUAGE, Filled, plan_id_from_title
from storybench.plan.loading import (
    json_path,
    load_plan,
    load_plan_with_notes,
    parse_plan,
    parse_plan_with_notes,
    plan_json_schema,
    read_plan_data,
    save_plan,
)
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES, Rect, Template, TemplateId, panel_count, panel_rects
from storybench.plan.models import (
    MAX_PAGES,
    Chapter,
    Character,
    ComicPlan,
    Dialogue,
    Page,
    PanelPlan,
    derive_seed,
    plan_issues,
)
from storybench.plan.styles import STYLE_IDS, STYLES, Palette, Style, get_style

__all__ = [
    "DEFAULT_LANGUAGE",
    "MAX_PAGES",
    "STYLES",
    "STYLE_IDS",
    "TEMPLATES",
    "TEMPLATE_IDS",
    "Chapter",
    "Character",
    "ComicPlan",
    "Dialogue",
    "Filled",
    "Page",
    "Palette",
    "PanelPlan",
    "Rect",
    "Style",
    "Template",
    "TemplateId",
    "derive_seed",
    "get_style",
    "json_path",
    "load_plan",
    "load_plan_with_notes",
    "panel_count",
    "panel_rects",
    "parse_plan",
    "parse_plan_with_notes",
    "plan_id_from_title",
    "plan_issues",
    "plan_json_schema",
    "read_plan_data",
    "save_plan",
]
