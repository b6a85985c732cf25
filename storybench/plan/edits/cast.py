"""Edits of the cast: characters, their seeds, and removing one without dangling references
(see :mod:`storybench.plan.edits`)."""

from __future__ import annotations

from typing import Any

from storybench.plan.edits.base import Edited, EditRejected, run_edit
from storybench.plan.models import Character, ComicPlan, Dialogue, derive_seed
from storybench.plan.paths import PlanPath

__all__ = [
    "CHARACTER_FIELDS",
    "add_character",
    "character_usage",
    "find_character",
    "remove_character",
    "set_seed",
    "update_character",
]

#: Character fields :func:`update_character` sets.
CHARACTER_FIELDS = ("name", "appearance", "clothing", "role")


def find_character(plan: ComicPlan, character_id: str) -> Character:
    """The character ``character_id`` of ``plan``.

    Raises:
        EditRejected: no such character.
    """
    try:
        return plan.character(character_id)
    except KeyError as exc:
        raise EditRejected(exc.args[0]) from None


def _index(plan: ComicPlan, character_id: str) -> int:
    return next(i for i, c in enumerate(plan.characters) if c.id == character_id)


def character_usage(plan: ComicPlan, character_id: str) -> list[PlanPath]:
    """Paths of every panel character and dialogue line that names ``character_id``."""
    out: list[PlanPath] = []
    for ci, ch in enumerate(plan.chapters):
        for pi, pg in enumerate(ch.pages):
            for ki, pan in enumerate(pg.panels):
                base = PlanPath.of_panel(ci, pi, ki)
                out += [base.at(f"characters[{i}]") for i, c in enumerate(pan.characters) if c == character_id]
                out += [
                    base.dialogue(i).at("character") for i, d in enumerate(pan.dialogue) if d.character == character_id
                ]
    return out


def add_character(plan: ComicPlan, name: str, appearance: str = "", clothing: str = "", role: str = "") -> Edited:
    """Add a character with a fresh id (``char-N``) and a seed derived from the plan and that id;
    ``at`` of the result names it.

    Raises:
        EditRejected: empty name or a field too long.
    """
    if not name.strip():
        raise EditRejected("a character needs a name")
    taken = {c.id for c in plan.characters}
    n = len(taken) + 1
    while f"char-{n}" in taken:
        n += 1
    cid = f"char-{n}"

    def change(copy: ComicPlan) -> None:
        c = Character(
            id=cid, name=name, appearance=appearance, clothing=clothing, role=role, seed=derive_seed(copy.id, cid)
        )
        copy.characters = [*copy.characters, c]

    edited, _ = run_edit(f"add character {name}", plan, change)
    return Edited(edited, f"add character {name}", PlanPath.of_character(len(edited.characters) - 1))


def update_character(plan: ComicPlan, character_id: str, **fields: Any) -> Edited:
    """Set ``name``, ``appearance``, ``clothing`` or ``role`` of a character.

    Raises:
        EditRejected: unknown character or field, empty name, value too long.
    """
    bad = set(fields) - set(CHARACTER_FIELDS)
    if bad:
        raise EditRejected(
            f"cannot edit {', '.join(sorted(bad))} of a character; editable: {', '.join(sorted(CHARACTER_FIELDS))}"
        )
    if "name" in fields and not str(fields["name"]).strip():
        raise EditRejected("a character needs a name")
    c = find_character(plan, character_id)
    i = _index(plan, character_id)

    def change(copy: ComicPlan) -> None:
        for k, v in fields.items():
            setattr(copy.characters[i], k, v)

    edited, _ = run_edit(f"edit {c.name}", plan, change)
    return Edited(edited, f"edit {c.name}")


def set_seed(plan: ComicPlan, character_id: str, seed: int, label: str = "") -> Edited:
    """Set a character's seed (``0..2**31-1``).

    Raises:
        EditRejected: unknown character, seed out of range.
    """
    c = find_character(plan, character_id)
    i = _index(plan, character_id)
    label = label or f"pin seed of {c.name}"
    edited, _ = run_edit(label, plan, lambda copy: setattr(copy.characters[i], "seed", seed))
    return Edited(edited, label)


def remove_character(plan: ComicPlan, character_id: str, replacement: str | None = None) -> Edited:
    """Remove a character: with ``replacement`` its panels and lines go to that character,
    without it the character leaves its panels and its lines are deleted.

    Raises:
        EditRejected: unknown character or replacement, or replacing a character with itself.
    """
    c = find_character(plan, character_id)
    if replacement is not None:
        if replacement == character_id:
            raise EditRejected("cannot replace a character with itself")
        other = find_character(plan, replacement)
    used = character_usage(plan, character_id)
    removed = 0

    def change(copy: ComicPlan) -> None:
        nonlocal removed
        for _, page in copy.pages():
            for pan in page.panels:
                cast = [replacement if x == character_id else x for x in pan.characters]
                pan.characters = list(dict.fromkeys(x for x in cast if x is not None))
                lines = []
                for d in pan.dialogue:
                    if d.character != character_id:
                        lines.append(d)
                    elif replacement:
                        lines.append(Dialogue(character=replacement, text=d.text))
                    else:
                        removed += 1
                pan.dialogue = lines
        copy.characters = [x for x in copy.characters if x.id != character_id]

    edited, _ = run_edit(f"remove character {c.name}", plan, change)
    if replacement is not None:
        note = f"removed {c.name}; {len(used)} reference(s) now point to {other.name}"
    elif used:
        note = f"removed {c.name} from {len(used)} place(s), {removed} dialogue line(s) deleted (Undo restores them)"
    else:
        note = f"removed {c.name}"
    return Edited(edited, note)
