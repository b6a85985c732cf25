"""The comic plan: models, rules, layouts and styles."""

from storybench.plan.io import json_path, load_plan, parse_plan, plan_json_schema, save_plan
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
    "MAX_PAGES",
    "STYLES",
    "STYLE_IDS",
    "TEMPLATES",
    "TEMPLATE_IDS",
    "Chapter",
    "Character",
    "ComicPlan",
    "Dialogue",
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
    "panel_count",
    "panel_rects",
    "parse_plan",
    "plan_issues",
    "plan_json_schema",
    "save_plan",
]
