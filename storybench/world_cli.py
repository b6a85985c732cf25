"""``storybench world``: look at world info and character cards, test which entries fire, import.

* ``storybench world show FILE``: the entries, their keys and sizes.
* ``storybench world match FILE... --text TEXT [--semantic]``: the entries that fire for
  TEXT, one a line with the reason (the key, or ``meaning 0.83``), in insertion order;
  then dropped/skipped entries and warnings.
* ``storybench world import CARD_OR_WORLD -o world.json``: write a storybench world
  (or ``--format sillytavern``: SillyTavern World Info JSON).

FILE is a SillyTavern World Info JSON, a character card (V2/V3 JSON, PNG, CharX) or
a storybench world. Registered by :mod:`storybench.cli` through :func:`add_world_command`.
"""

from __future__ import annotations

import argparse
from typing import Any

from storybench.world.activation import Activation, activate, estimate_tokens
from storybench.world.importing import Imported, load_world_file, save_sillytavern, save_world
from storybench.world.memory import SemanticMemory, e5_embedder
from storybench.world.model import World, WorldEntry

__all__ = ["add_world_command", "run_world_import", "run_world_match", "run_world_show"]


def add_world_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``world`` subcommand (``show``, ``match``, ``import``) to an argparse subparsers object."""
    p = subparsers.add_parser("world", help="world info and character cards: show, match, import")
    sub = p.add_subparsers(dest="world_command", required=True)

    show = sub.add_parser("show", help="list a world's entries with their keys and sizes")
    show.add_argument("file", help="world JSON, character card (PNG, JSON, CharX) or storybench world")
    show.set_defaults(func=run_world_show)

    match = sub.add_parser("match", help="the entries that fire for a text, with the reason")
    match.add_argument("files", nargs="+", metavar="FILE", help="world or card file(s); their entries are combined")
    match.add_argument("--text", required=True, help="the story text to scan")
    match.add_argument("--seed", type=int, default=0, help="seed of the probability rolls (default 0)")
    match.add_argument("--budget", type=int, default=None, help="world token budget (default: the world's, else none)")
    match.add_argument(
        "--semantic", action="store_true", help="also recall entries by meaning (needs storybench[memory])"
    )
    match.set_defaults(func=run_world_match)

    imp = sub.add_parser("import", help="read a card or world file and write a world file")
    imp.add_argument("source", metavar="CARD_OR_WORLD")
    imp.add_argument("-o", "--output", required=True, help="the world file to write")
    imp.add_argument(
        "--format",
        choices=("storybench", "sillytavern"),
        default="storybench",
        help="storybench world (entries and characters; default) or SillyTavern World Info",
    )
    imp.set_defaults(func=run_world_import)
    return p


def _keys(entry: WorldEntry) -> str:
    keys = ", ".join(entry.keys) or "-"
    if entry.selective and entry.secondary_keys:
        keys += f" [{entry.selective_logic.name.replace('_', ' ')}: {', '.join(entry.secondary_keys)}]"
    return keys


def _describe(imported: Imported) -> list[str]:
    world = imported.world
    lines = [f"{imported.kind}: {world.name or '(unnamed)'}, {len(world.entries)} entries"]
    if imported.character is not None:
        c = imported.character
        lines.append(
            f"character: {c.name} ({len(c.description):,} chars of description, opening {len(c.first_message):,})"
        )
    for e in world.entries:
        flags = [e.position.name.lower().replace("_", " ")]
        if e.position == e.position.AT_DEPTH:
            flags[-1] += f" {e.depth}"
        flags += ["constant"] * e.constant + ["disabled"] * (not e.enabled)
        if e.use_probability and e.probability is not None and e.probability < 100:
            flags.append(f"{e.probability:g} %")
        size = f"{len(e.content):,} chars ~{estimate_tokens(e.content)} tok"
        lines.append(f"  #{e.uid:<4} {e.title[:30]:<30} order {e.order:<5} {size:<22} {'; '.join(flags)}")
        lines.append(f"        keys: {_keys(e)}")
    return lines


def run_world_show(args: argparse.Namespace) -> int:
    """Print the file's entries; returns 0."""
    for line in _describe(load_world_file(args.file)):
        print(line)
    return 0


def run_world_match(args: argparse.Namespace) -> int:
    """Print the entries that fire for ``--text`` (insertion order); returns 0."""
    world = _merged_world(args.files)
    world.settings.scan_depth = max(world.settings.scan_depth, 1)
    budget = args.budget if args.budget is not None else world.settings.token_budget
    semantic = SemanticMemory(e5_embedder()) if args.semantic else None
    limit = budget if budget is not None else 10**9
    result = activate(world, [args.text], budget=limit, seed=args.seed, semantic=semantic)
    for line in _activation_lines(result):
        print(line)
    return 0


def _merged_world(files: list[str]) -> World:
    """The world of ``files`` merged in order (an empty :class:`World` for none)."""
    world = World()
    for path in files:
        loaded = load_world_file(path).world
        world = loaded if not world.entries else world.merged(loaded)
    return world


def _activation_lines(result: Activation) -> list[str]:
    """The lines ``world match`` prints: fired, dropped and skipped entries, then warnings."""
    lines = [f"#{f.entry.uid}\t{f.entry.title}\t{f.reason}" for f in result.fired]
    lines += [f"dropped #{skip.entry.uid}\t{skip.entry.title}\t{skip.reason}" for skip in result.dropped]
    lines += [f"skipped #{skip.entry.uid}\t{skip.entry.title}\t{skip.reason}" for skip in result.skipped]
    lines += [f"warning: {warning}" for warning in result.warnings]
    if not result.fired:
        lines.append("no entry fires for this text")
    return lines


def run_world_import(args: argparse.Namespace) -> int:
    """Read ``source`` and write ``--output``; prints what was imported; returns 0."""
    imported = load_world_file(args.source)
    if args.format == "sillytavern":
        written = save_sillytavern(imported.world, args.output)
    else:
        written = save_world(imported.story_world(), args.output)
    for line in _describe(imported):
        print(line)
    print(f"wrote {written}")
    return 0
