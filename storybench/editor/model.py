"""The plan editor's model: the plan under edit, its selection and open question as traits.

A thin model over four parts, each its own module: the pure edits
(:mod:`storybench.plan.edits`: ``(plan, place, ...) -> Edited(plan, note, at)``), the undo
history (:mod:`storybench.editor.history`), the open/save session with its dirty marker
and save conflicts (:mod:`storybench.editor.session`) and the LLM assists with Stop
(:mod:`storybench.editor.assist`). No ipywidgets here: the view
(:mod:`storybench.editor.view`) observes the model's traits and calls its methods.

Every edit is one undoable step. What a user may leave momentarily invalid (an empty
dialogue line) is listed by :meth:`PlanEditorModel.issues` with JSON paths
(:class:`~storybench.plan.paths.PlanPath`) that :meth:`PlanEditorModel.goto` jumps to.

Questions the user must answer (unsaved changes before switching plans, removing a
character used in panels, dropping panels on a layout change, saving a plan with
problems or over a file changed on disk) are not raised: the method returns a
:class:`Pending`, also kept in the :attr:`~PlanEditorModel.pending` trait, and
:meth:`PlanEditorModel.resolve` carries out the chosen answer.

Traits and events: see :mod:`storybench.editor.state`.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path
from typing import Any

from storybench.editor import preview
from storybench.editor.issues import issue_words
from storybench.editor.state import EditorState, ModelEvent
from storybench.plan import edits
from storybench.plan.edits import PANEL_FIELDS, PLACEHOLDER_ACTION, EditRejected
from storybench.plan.ids import unique_slug
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES
from storybench.plan.models import SEED_MAX, ComicPlan
from storybench.ui_kit.pending import Pending

__all__ = ["PANEL_FIELDS", "PLACEHOLDER_ACTION", "EditRejected", "ModelEvent", "Pending", "PlanEditorModel"]


class PlanEditorModel(EditorState):
    """A comic plan under edit: open, generate and save plans, and edit them.

    Args:
        plans_dir: folder of plan files (``*.json``) the editor lists and saves to.
        llm: LLM backend (object or name) for generating plans and dialogue; ``None``: the default.
        history: how many undo steps are kept.

    Attributes and traits: see :class:`~storybench.editor.state.EditorState`.
    """

    # -- plans: list, open, generate, save -----------------------------------------------
    def list_plans(self) -> list[Path]:
        """Plan files in :attr:`plans_dir`, sorted by name."""
        return self.session.list_plans()

    def open_plan(self, path: str | Path) -> Pending | None:
        """Open a plan file (validated on load). With unsaved changes, returns a
        :class:`Pending` (``save``/``discard``/``cancel``) instead.

        Raises:
            FileNotFoundError, PlanValidationError: from :func:`storybench.plan.load_plan`.
        """
        path = Path(path)

        def proceed() -> None:
            self._install(self.session.open(path))
            self._set_status(f"opened {path}")

        return self._guard_unsaved(f"opening {path.name}", proceed)

    def set_plan(self, plan: ComicPlan, path: str | Path | None = None, *, saved: bool = False) -> Pending | None:
        """Edit ``plan`` (a copy); ``path`` is where Save writes (default
        ``plans_dir/<id>.json``). ``saved``: the plan is already on disk as is."""
        target = Path(path) if path else self.session.default_path(plan)

        def proceed() -> None:
            copy = plan.model_copy(deep=True)
            self.session.adopt(copy, target, saved=saved)
            self._install(copy)
            self._set_status(f"editing {plan.title!r}")

        return self._guard_unsaved(f"switching to {plan.title!r}", proceed)

    def generate(self, prompt: str, **options: Any) -> Pending | None:
        """Plan a new comic from ``prompt`` (:meth:`PlanAssist.generate`: keyword ``style``,
        ``max_pages``, ``language``, ``llm``, ``seed``, ``on_progress``, ``progress``) and edit
        it. The result (with its repairs) is kept in :attr:`last_result`; the plan is unsaved
        until :meth:`save`. With unsaved changes, returns a :class:`Pending` first.
        :meth:`stop` (from another thread) ends it within a fraction of a second with
        ``Cancelled``; the plan being edited is kept.

        Raises:
            ConfigError, BackendError: from ``plan_comic``.
            Cancelled: :meth:`stop` was called.
        """

        def proceed() -> None:
            result = self.assist.generate(prompt, **options)
            self.last_result = result
            taken = {p.stem for p in self.list_plans()}
            target = self.plans_dir / f"{unique_slug(result.plan.id, taken)}.json"
            self.session.adopt(result.plan, target, saved=False)
            self._install(result.plan)
            self._set_status(
                f"planned {result.plan.page_count()} page(s) in {result.seconds:.1f} s"
                + (f" with {len(result.repairs)} repair(s)" if result.repairs else "")
            )

        return self._guard_unsaved("generating a new plan", proceed)

    def stop(self) -> None:
        """Stop the plan generation in progress (any thread; nothing when none runs)."""
        self.assist.stop()

    def save(self, path: str | Path | None = None) -> Path:
        """Write the plan atomically to ``path`` (default :attr:`path`), whatever it holds;
        clears the dirty marker. A plan with problems is written with a warning status
        that lists them (:meth:`request_save` asks first instead).

        Raises:
            EditRejected: no plan is open.
        """
        target = self.session.save(self._need_plan(), path)
        self._changed()
        self._emit("edit")
        issues = self.issues()
        self._set_status(
            f"saved {target}" + (f" ({len(issues)} issue(s) left)" if issues else ""),
            "warning" if issues else "info",
        )
        return target

    def request_save(self, path: str | Path | None = None) -> Pending | Path:
        """Save as the Save button does: a plan with problems first asks (``save_anyway`` /
        ``cancel``, the problems listed in words and places), and so does a file that holds
        another plan or changed on disk since it was opened (``overwrite`` / ``cancel``).

        Returns:
            The file written, or the :class:`Pending` question.
        """
        plan = self._need_plan()
        target = Path(path) if path else self.path or self.session.default_path(plan)
        problems = self.issues()
        if not problems:
            return self._save_unless_conflict(target)
        lines = "\n".join(issue_words(plan, i, with_path=False) for i in problems)
        return self._ask(
            Pending(
                kind="save-problems",
                message=f"“{plan.title}” has {len(problems)} problem(s) a render would stop at. Save anyway?\n{lines}",
                choices=("save_anyway", "cancel"),
                labels={"save_anyway": "Save anyway", "cancel": "Cancel"},
                action=lambda _choice: self._save_unless_conflict(target),
            )
        )

    def _save_unless_conflict(self, target: Path) -> Pending | Path:
        if not self.session.conflict(target):
            return self.save(target)
        return self._ask(
            Pending(
                kind="overwrite-plan",
                message=f"{target.name} was changed on disk or holds another plan. Overwrite it?",
                choices=("overwrite", "cancel"),
                labels={"overwrite": "Overwrite", "cancel": "Cancel"},
                action=lambda _choice: self.save(target),
            )
        )

    # -- edits (each one undo step; see storybench.plan.edits) -------------------------------
    def character_usage(self, character_id: str) -> list[str]:
        """JSON paths of every panel character and dialogue line that names ``character_id``."""
        return [str(p) for p in edits.character_usage(self._need_plan(), character_id)]

    def add_character(self, name: str, appearance: str = "", clothing: str = "", role: str = "") -> str:
        """Add a character with a fresh id (``char-N``) and a derived seed; selects it and returns its id.

        Raises:
            EditRejected: empty name or a field too long.
        """
        self._apply(edits.add_character(self._need_plan(), name, appearance, clothing, role), event="plan")
        self._emit("selection")
        return self.character_id or ""

    def update_character(self, character_id: str, **fields: Any) -> None:
        """Set ``name``, ``appearance``, ``clothing`` or ``role`` of a character.

        Raises:
            EditRejected: unknown character or field, empty name, value too long.
        """
        key = f"char:{character_id}:{','.join(sorted(fields))}"
        self._apply(edits.update_character(self._need_plan(), character_id, **fields), coalesce=key)

    def regenerate_seed(self, character_id: str, rng: random.Random | None = None) -> int:
        """Give a character a new random seed (a new look); returns it."""
        c = edits.find_character(self._need_plan(), character_id)
        seed = (rng or random.Random()).randint(0, SEED_MAX)
        self._apply(edits.set_seed(self._need_plan(), character_id, seed, label=f"new seed for {c.name}"))
        return seed

    def pin_seed(self, character_id: str, seed: int) -> None:
        """Set a character's seed to ``seed`` (``0..2**31-1``), e.g. one whose look you liked.

        Raises:
            EditRejected: seed out of range.
        """
        self._apply(edits.set_seed(self._need_plan(), character_id, seed))

    def _ask_character_in_use(self, character_id: str, uses: int) -> Pending:
        plan = self._need_plan()
        others = [o for o in plan.characters if o.id != character_id]
        labels = {"remove_references": "Remove from panels (and delete their lines)", "cancel": "Cancel"}
        labels.update({f"replace_with:{o.id}": f"Replace with {o.name}" for o in others})
        name = plan.character(character_id).name
        message = f"{name} appears in {uses} place(s). Remove them from the panels or replace them?"
        choices = ("remove_references", *(f"replace_with:{o.id}" for o in others), "cancel")
        return self._ask(
            Pending("character-in-use", message, choices, labels, partial(self.remove_character, character_id))
        )

    def remove_character(self, character_id: str, on_used: str = "ask") -> Pending | None:
        """Remove a character without leaving dangling references.

        Args:
            on_used: what to do when panels use the character: ``"ask"`` returns a
                :class:`Pending` (choices ``remove_references``, ``replace_with:<id>`` per
                other character, ``cancel``); ``"remove_references"`` takes them out of
                panels and deletes their dialogue lines; ``"replace_with:<id>"`` gives
                their panels and lines to another character.

        Raises:
            EditRejected: unknown character, unknown ``on_used``, or replacing with itself or an unknown id.
        """
        plan = self._need_plan()
        edits.find_character(plan, character_id)
        used = edits.character_usage(plan, character_id)
        if used and on_used == "ask":
            return self._ask_character_in_use(character_id, len(used))
        replacement = on_used.split(":", 1)[1] if used and on_used.startswith("replace_with:") else None
        if used and replacement is None and on_used != "remove_references":
            raise EditRejected(f"on_used must be 'ask', 'remove_references' or 'replace_with:<id>', got {on_used!r}")
        self._apply(edits.remove_character(plan, character_id, replacement), event="plan")
        return None

    def add_chapter(self, title: str = "New chapter") -> None:
        """Add a chapter with one single-panel page after the selected chapter and select it."""
        self._apply(edits.add_chapter(self._need_plan(), self.selection, title), event="plan")

    def rename_chapter(self, title: str) -> None:
        """Set the selected chapter's title."""
        key = f"chapter:{self.chapter.id}"
        self._apply(edits.rename_chapter(self._need_plan(), self.selection, title), coalesce=key)

    def remove_chapter(self) -> None:
        """Remove the selected chapter (its pages go to the undo history).

        Raises:
            EditRejected: it is the only chapter.
        """
        self._apply(edits.remove_chapter(self._need_plan(), self.selection), event="plan")

    def add_page(self, layout: str = "single") -> None:
        """Add a page after the selected one (placeholder panels for ``layout``) and select it.

        Raises:
            EditRejected: unknown layout, or the plan already has 20 pages.
        """
        self._apply(edits.add_page(self._need_plan(), self.selection, layout), event="plan")

    def remove_page(self) -> None:
        """Remove the selected page (it goes to the undo history); an emptied chapter is removed too.

        Raises:
            EditRejected: it is the plan's only page.
        """
        self._apply(edits.remove_page(self._need_plan(), self.selection), event="plan")

    def move_page(self, delta: int) -> None:
        """Move the selected page ``delta`` places (``-1`` earlier, ``+1`` later) within its
        chapter, or into the neighbouring chapter at an edge; page numbers are renumbered.

        Raises:
            EditRejected: nowhere to move.
        """
        self._apply(edits.move_page(self._need_plan(), self.selection, delta), event="plan")

    def set_layout(self, layout: str, on_surplus: str = "drop") -> Pending | None:
        """Change the selected page's layout, keeping the page valid: missing panels are
        added with a placeholder action; surplus panels (empty ones first, then the last
        ones) are dropped into the undo history and named in :attr:`status` — Undo restores them.

        Args:
            layout: a layout template id.
            on_surplus: what to do with surplus panels that hold content: ``"drop"``,
                ``"new_page"`` (move them to a new page after this one, in a layout that
                fits them), or ``"ask"`` — return a :class:`Pending` with those three
                choices (``new_page``, ``drop``, ``cancel``) and change nothing yet.

        Raises:
            EditRejected: unknown layout or ``on_surplus``.
        """
        if layout not in TEMPLATES:
            raise EditRejected(f"unknown layout {layout!r}; known: {', '.join(TEMPLATE_IDS)}")
        if on_surplus not in ("drop", "new_page", "ask"):
            raise EditRejected(f"on_surplus: {on_surplus!r} is not one of drop, new_page, ask")
        page = self.page
        if layout == page.layout:
            return None
        doomed = edits.surplus_panels(page, layout)
        if on_surplus == "drop" or not any(edits.has_text(p) for p in doomed):
            self._apply(edits.set_layout(self._need_plan(), self.selection, layout), event="plan")
            return None
        if on_surplus == "new_page":
            moved = {p.id for p in doomed}
            self._apply(edits.move_to_new_page(self._need_plan(), self.selection, layout, moved), event="plan")
            return None
        need = TEMPLATES[layout].panel_count
        names = ", ".join(f"panel {p.position}" for p in doomed)
        return self._ask(
            Pending(
                kind="drop-panels",
                message=f"Layout {layout!r} holds {need} panel(s): {names} would not fit on page {page.page_number}.",
                choices=("new_page", "drop", "cancel"),
                labels={"new_page": "Move to a new page", "drop": "Drop them", "cancel": "Cancel"},
                action=lambda choice: self.set_layout(layout, on_surplus=choice),
            )
        )

    def add_panel(self) -> None:
        """Add a panel after the selected one; the layout switches to one with one more panel.

        Raises:
            EditRejected: the page already has the most panels a layout holds (5).
        """
        self._apply(edits.add_panel(self._need_plan(), self.selection), event="plan")

    def remove_panel(self) -> None:
        """Remove the selected panel (to the undo history); the layout switches to one with one panel fewer.

        Raises:
            EditRejected: it is the page's only panel.
        """
        self._apply(edits.remove_panel(self._need_plan(), self.selection), event="plan")

    def move_panel(self, delta: int) -> None:
        """Move the selected panel ``delta`` places in reading order; positions are renumbered.

        Raises:
            EditRejected: nowhere to move.
        """
        self._apply(edits.move_panel(self._need_plan(), self.selection, delta), event="plan")

    def update_panel(self, **fields: Any) -> None:
        """Set fields of the selected panel: ``action``, ``location``, ``mood``, ``camera``,
        ``narrative``, ``sfx`` (``""`` clears the last two), ``characters`` (ids).

        Raises:
            EditRejected: unknown field, unknown character id, value too long.
        """
        key = f"panel:{self.panel.id}:{','.join(sorted(fields))}"
        self._apply(edits.update_panel(self._need_plan(), self.selection, **fields), coalesce=key)

    def add_line(self, speaker: str | None = None, text: str = "") -> int:
        """Append a dialogue line to the selected panel; returns its index. The speaker
        defaults to the panel's first character (or the plan's first).

        Raises:
            EditRejected: no characters in the plan, unknown speaker.
        """
        edited = self._apply(edits.add_line(self._need_plan(), self.selection, speaker, text))
        return edited.at.line if edited.at is not None and edited.at.line is not None else 0

    def update_line(self, index: int, *, speaker: str | None = None, text: str | None = None) -> None:
        """Change a dialogue line's speaker and/or text.

        Raises:
            EditRejected: no such line, unknown speaker, text too long.
        """
        key = f"line:{self.panel.id}:{index}:{speaker is None}"
        self._apply(
            edits.update_line(self._need_plan(), self.selection, index, speaker=speaker, text=text), coalesce=key
        )

    def remove_line(self, index: int) -> None:
        """Delete a dialogue line (Undo restores it)."""
        self._apply(edits.remove_line(self._need_plan(), self.selection, index))

    def move_line(self, index: int, delta: int) -> None:
        """Move a dialogue line ``delta`` places (balloon reading order).

        Raises:
            EditRejected: nowhere to move.
        """
        self._apply(edits.move_line(self._need_plan(), self.selection, index, delta))

    # -- assists and preview ----------------------------------------------------------------
    def write_panel_dialogue(
        self, dialogue_type: str, n_lines: int = 2, *, llm: Any = None, seed: int | None = None
    ) -> int:
        """Write ``n_lines`` lines for the selected panel with the LLM, appended as one undoable edit.

        Returns:
            How many lines were added.

        Raises:
            ConfigError, BackendError: from :func:`storybench.prompts.dialogue.write_dialogue`.
        """
        plan = self._need_plan()
        lines = self.assist.dialogue(plan, self.panel, dialogue_type, n_lines, llm=llm, seed=seed)
        self._apply(edits.add_lines(plan, self.selection, lines, f"write {dialogue_type} dialogue"))
        return len(lines)

    def enhanced_prompt(self, **presets: Any) -> Any:
        """The selected panel's image prompt enhanced with presets (keyword ``style``,
        ``lighting``, ``mood``, ``quality``). Read-only: the plan is not changed."""
        return self.assist.enhanced_prompt(self._need_plan(), self.panel, **presets)

    def page_preview(self, page_width: int = 600) -> tuple[Any, str]:
        """A preview of the selected page: ``(PIL.Image or None, message)``, ``page_width`` pixels
        wide. Never raises: a missing composition module or an invalid page gives a message."""
        if self.plan is None:
            return None, "no plan open"
        return preview.safe_page_preview(self.plan, self.page, page_width)

    def page_lettering(self) -> str:
        """The selected page's lettering (captions, dialogue, SFX) in reading order: the
        preview image's text alternative."""
        if self.plan is None:
            return ""
        return preview.page_lettering(self.plan, self.page)
