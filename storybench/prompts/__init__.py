"""Prompt logic: panel prompt assembly (and, later, illustration prompts and enhancement presets)."""

from storybench.prompts.panel import panel_prompt, panel_render_spec, panel_seed, render_size

__all__ = ["panel_prompt", "panel_render_spec", "panel_seed", "render_size"]
