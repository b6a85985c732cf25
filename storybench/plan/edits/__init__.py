"""Pure edits of a comic plan: ``(plan, place, ...) -> Edited(plan, note, at)``.

Every function here takes a plan and returns a *new* plan (the argument is never
changed), a note saying what was done in a writer's words ("added a panel; layout is
now 'grid-2x2'"), and where the selection goes afterwards (``at``; ``None``: it stays).
No widgets, no files, no undo: the editor (:mod:`storybench.editor`) keeps the history
and the selection; a script can chain edits the same way.

Edits keep the page structure valid: panel counts always match the layout (adding or
removing a panel switches the layout, a new layout gets placeholder panels or loses its
surplus panels, empty ones first), positions and page numbers are renumbered after every
change. A value the schema refuses raises :class:`EditRejected` naming the edit.

Places are :class:`~storybench.plan.paths.PlanPath` values with 0-based ``chapter``,
``page`` and ``panel`` indices (a character: its index in ``characters``).

Modules: :mod:`.base` (result, refusal, runner), :mod:`.pages` (layouts, panels, pages,
chapters), :mod:`.content` (panel fields, dialogue lines), :mod:`.cast` (characters).
"""

from storybench.plan.edits.base import PLACEHOLDER_ACTION, Edited, EditRejected, fresh_ids, has_text, renumber
from storybench.plan.edits.cast import (
    CHARACTER_FIELDS,
    add_character,
    character_usage,
    find_character,
    remove_character,
    set_seed,
    update_character,
)
from storybench.plan.edits.content import (
    PANEL_FIELDS,
    add_line,
    add_lines,
    move_line,
    remove_line,
    update_line,
    update_panel,
)
from storybench.plan.edits.pages import (
    add_chapter,
    add_page,
    add_panel,
    move_page,
    move_panel,
    move_to_new_page,
    remove_chapter,
    remove_page,
    remove_panel,
    rename_chapter,
    set_layout,
    surplus_panels,
)

__all__ = [
    "CHARACTER_FIELDS",
    "PANEL_FIELDS",
    "PLACEHOLDER_ACTION",
    "EditRejected",
    "Edited",
    "add_chapter",
    "add_character",
    "add_line",
    "add_lines",
    "add_page",
    "add_panel",
    "character_usage",
    "find_character",
    "fresh_ids",
    "has_text",
    "move_line",
    "move_page",
    "move_panel",
    "move_to_new_page",
    "remove_chapter",
    "remove_character",
    "remove_line",
    "remove_page",
    "remove_panel",
    "rename_chapter",
    "renumber",
    "set_layout",
    "set_seed",
    "surplus_panels",
    "update_character",
    "update_line",
    "update_panel",
]
