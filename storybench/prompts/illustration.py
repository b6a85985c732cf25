"""Illustration prompts for story segments: moved to :mod:`storybench.story.illustration`
(they clean a segment's text with the story's choice parser and repetition check, so they
belong to the story feature). This name stays importable for existing code and notebooks.
"""

from storybench.story.illustration import (
    FALLBACK_PROMPTS,
    MAX_WORDS,
    IllustrationPrompter,
    check_answer,
    clean_for_illustration,
    fallback_prompt,
    illustration_messages,
    illustration_render_spec,
    illustration_seed,
    postprocess_answer,
    truncate_words,
)

__all__ = [
    "FALLBACK_PROMPTS",
    "MAX_WORDS",
    "IllustrationPrompter",
    "check_answer",
    "clean_for_illustration",
    "fallback_prompt",
    "illustration_messages",
    "illustration_render_spec",
    "illustration_seed",
    "postprocess_answer",
    "truncate_words",
]
