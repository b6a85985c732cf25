"""World info (lorebooks), character cards and per-branch memory for stories and comic plans.

Modules:

* :mod:`~storybench.world.model`: the data (:class:`World`, :class:`WorldEntry`, :class:`Character`).
* :mod:`~storybench.world.keys`: matching one key (text, whole words, ``/regex/flags`` with a time limit).
* :mod:`~storybench.world.activation`: which entries fire for a stretch of story, and why.
* :mod:`~storybench.world.sillytavern`, :mod:`~storybench.world.cards`, :mod:`~storybench.world.png_chunks`,
  :mod:`~storybench.world.importing`: SillyTavern World Info, character cards V2/V3 (JSON, PNG, CharX).
* :mod:`~storybench.world.memory`: recall by meaning (optional ``storybench[memory]``).
* :mod:`~storybench.world.context`: the context of one segment, with its report.
* :mod:`~storybench.world.summary`: the rolling summary written by the LLM.
* :mod:`~storybench.world.characters`: which characters a text names, their looks for image prompts.
"""

from storybench.world.activation import Activation, Firing, Skip, activate, estimate_tokens
from storybench.world.context import Block, Context, ContextBudgetError, ContextReport, SegmentText, build_context
from storybench.world.errors import WorldError, WorldFormatError, WorldTooLargeError
from storybench.world.importing import (
    Imported,
    load_world_file,
    parse_world_bytes,
    save_card_png,
    save_charx,
    save_sillytavern,
    save_world,
)
from storybench.world.model import Character, EntrySource, Position, SelectiveLogic, World, WorldEntry, WorldSettings
from storybench.world.summary import Summary, write_summary

__all__ = [
    "Activation",
    "Block",
    "Character",
    "Context",
    "ContextBudgetError",
    "ContextReport",
    "EntrySource",
    "Firing",
    "Imported",
    "Position",
    "SegmentText",
    "SelectiveLogic",
    "Skip",
    "Summary",
    "World",
    "WorldEntry",
    "WorldError",
    "WorldFormatError",
    "WorldSettings",
    "WorldTooLargeError",
    "activate",
    "build_context",
    "estimate_tokens",
    "load_world_file",
    "parse_world_bytes",
    "save_card_png",
    "save_charx",
    "save_sillytavern",
    "save_world",
    "write_summary",
]
