"""The plan editor's model: the plan under edit, its selection and open question as traits.

A thin model over four parts, each its own module: the pure edits
(:mod:`storybench.plan.edits`: ``(plan, place, ...) -> Edited(plan, note, at)``), the undo
history (:mod:`storybench.editor.history`), the open/save session with its dirty marker
and save conflicts (:mod:`storybench.editor.session`) and the LLM assists with Stop
(:mod:`storybench.editor.assist`). No ipywidgets here: the view
(:mod:`storybench.editor.view`) observes these traits and calls these methods.

Every edit is one undoable step. What a user may leave momentarily invalid (an empty
dialogue line) is listed by :meth:`PlanEditorModel.issues` with JSON paths
(:class:`~storybench.plan.paths.PlanPath`) that :meth:`PlanEditorModel.goto` jumps to.

Questions the user must answer (unsaved changes before switching plans, removing a
character used in panels, dropping panels on a layout change, saving a plan with
problems or over a file changed on disk) are not raised: the method returns a
:class:`Pending`, also kept in the :attr:`~PlanEditorModel.pending` trait, and
:meth:`PlanEditorModel.resolve` carries out the chosen answer.

Traits the view observes: ``revision`` (bumped on every change of the plan), ``selection``
(chapter, page and panel as a :class:`~storybench.plan.paths.PlanPath`), ``character_id``,
``focus``, ``status``, ``status_level``, ``pending``, ``dirty``, ``can_undo``, ``can_redo``,
``busy``, ``generating``, ``error``. :meth:`PlanEditorModel.on_event` also passes the
coarse events ``"plan"`` (another plan or structure changed), ``"edit"`` (content changed),
``"selection"``, ``"pending"``, ``"status"`` to a callback.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import traitlets as t

from storybench.compose.capacity import lettering_warnings
from storybench.editor import preview
from storybench.editor.assist import PlanAssist
from storybench.editor.history import History, Step
from storybench.editor.issues import issue_words
from storybench.editor.session import PlanSession
from storybench.exceptions import PlanIssue
from storybench.plan import edits
from storybench.plan.edits import PANEL_FIELDS, PLACEHOLDER_ACTION, EditRejected, Edited
from storybench.plan.ids import unique_slug
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES
from storybench.plan.models import SEED_MAX, Chapter, ComicPlan, Page, PanelPlan, plan_issues
from storybench.plan.paths import PlanPath
from storybench.plan.styles import STYLES
from storybench.ui_kit.pending import Pending

__all__ = ["PANEL_FIELDS", "PLACEHOLDER_ACTION", "EditRejected", "ModelEvent", "Pending", "PlanEditorModel"]

#: Plan-level paths :meth:`PlanEditorModel.goto` accepts besides chapters and characters.
ROOT_FIELDS = ("style", "title", "language", "id", "chapters", "characters")


class ModelEvent:
    """One coarse event (a new object each time, so the ``event`` trait always notifies)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class PlanEditorModel(t.HasTraits):
    """A comic plan under edit.

    Args:
        plans_dir: folder of plan files (``*.json``) the editor lists and saves to.
        llm: LLM backend (object or name) for generating plans and dialogue; ``None``: the default.
        history: how many undo steps are kept.

    Attributes:
        plan: the plan, or ``None`` before one is opened (replaced, never changed in place).
        session, assist: the open/save session and the LLM assists.
        last_result: the :class:`~storybench.planner.PlanResult` of the last generation.
    """

    busy = t.Bool(False)
    generating = t.Bool(False)
    error = t.Unicode("")
    revision = t.Int(0)
    selection = t.Instance(PlanPath, kw={"chapter": 0, "page": 0, "panel": 0})
    character_id = t.Unicode(None, allow_none=True)
    focus = t.Unicode(None, allow_none=True)
    status = t.Unicode("")
    status_level = t.Unicode("info")
    pending = t.Instance(Pending, allow_none=True)
    dirty = t.Bool(False)
    can_undo = t.Bool(False)
    can_redo = t.Bool(False)
    event = t.Instance(ModelEvent, allow_none=True)

    def __init__(self, plans_dir: str | Path = "plans", *, llm: Any = None, history: int = 100) -> None:
        super().__init__()
        self.session = PlanSession(plans_dir)
        self.assist = PlanAssist(llm)
        self.history = History(history)
        self.plan: ComicPlan | None = None
        self.last_result: Any = None
        self._callbacks: dict[Callable[[str], None], Callable[[Any], None]] = {}

    # -- events ------------------------------------------------------------------------
    def on_event(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(event)`` after every change (see the module doc for the events)."""
        handler = self._callbacks.setdefault(callback, lambda change: callback(change["new"].name))
        self.observe(handler, names="event")

    def off_event(self, callback: Callable[[str], None]) -> None:
        """Stop calling ``callback``."""
        handler = self._callbacks.pop(callback, None)
        if handler is not None:
            self.unobserve(handler, names="event")

    def _emit(self, name: str) -> None:
        self.event = ModelEvent(name)

    def _set_status(self, text: str, level: str = "info") -> None:
        with self.hold_trait_notifications():
            self.status = text
            self.status_level = level
        self._emit("status")

    # -- state ---------------------------------------------------------------------------
    @property
    def llm(self) -> Any:
        """The LLM backend (object or name) of the assists; ``None``: the default."""
        return self.assist.llm

    @llm.setter
    def llm(self, value: Any) -> None:
        self.assist.llm = value

    @property
    def plans_dir(self) -> Path:
        """The folder of plan files."""
        return self.session.plans_dir

    @property
    def path(self) -> Path | None:
        """The file the plan is saved to (``None``: not chosen yet)."""
        return self.session.path

    @property
    def chapter_index(self) -> int:
        """The selected chapter (0-based)."""
        return self.selection.chapter or 0

    @property
    def page_index(self) -> int:
        """The selected page within its chapter (0-based)."""
        return self.selection.page or 0

    @property
    def panel_index(self) -> int:
        """The selected panel within its page (0-based)."""
        return self.selection.panel or 0

    def _need_plan(self) -> ComicPlan:
        if self.plan is None:
            raise EditRejected("no plan is open")
        return self.plan

    @property
    def chapter(self) -> Chapter:
        """The selected chapter."""
        return self._need_plan().chapters[self.chapter_index]

    @property
    def page(self) -> Page:
        """The selected page."""
        return self.chapter.pages[self.page_index]

    @property
    def panel(self) -> PanelPlan:
        """The selected panel."""
        return self.page.panels[self.panel_index]

    def issues(self) -> list[PlanIssue]:
        """What is wrong with the plan now (empty: valid), each with its JSON path."""
        return plan_issues(self.plan) if self.plan is not None else []

    def lettering_warnings(self) -> list[PlanIssue]:
        """Panels whose text cannot be lettered at the minimum readable size (print page
        settings), each as an issue with the panel's JSON path and a ``lettering:`` message
        (``lettering: 2 of 5 balloons do not fit at the minimum size 24 px ...``); the
        same layout a render letters its pages with. Empty while the style is unknown."""
        if self.plan is None or self.plan.style not in STYLES:
            return []
        return [PlanIssue(w.path, f"lettering: {w.message}") for w in lettering_warnings(self.plan)]

    def panel_warnings(self) -> list[str]:
        """Lettering warnings of the selected panel (see :meth:`lettering_warnings`)."""
        if self.plan is None:
            return []
        here = str(self.selection)
        return [w.message for w in self.lettering_warnings() if w.path == here]

    # -- questions -----------------------------------------------------------------------
    def _ask(self, pending: Pending) -> Pending:
        with self.hold_trait_notifications():
            self.pending = pending
            self.status = f"an answer is needed: {pending.message.splitlines()[0]}"
            self.status_level = "question"
        self._emit("pending")
        return pending

    def resolve(self, choice: str) -> Any:
        """Answer the pending question with one of its ``choices``.

        Raises:
            EditRejected: nothing is pending, or ``choice`` is not one of its choices.
        """
        pending = self.pending
        if pending is None:
            raise EditRejected("no question is pending")
        if choice not in pending.choices:
            raise EditRejected(
                f"{choice!r} is not an answer to this question; choose one of {', '.join(pending.choices)}"
            )
        self.pending = None
        self._emit("pending")
        if choice == "cancel" or pending.action is None:
            self._set_status("cancelled")
            return None
        return pending.action(choice)

    def _guard_unsaved(self, what: str, proceed: Callable[[], Any]) -> Pending | None:
        if not self.dirty:
            proceed()
            return None

        def answer(choice: str) -> None:
            if choice == "save":
                self.save()
            proceed()

        return self._ask(
            Pending(
                kind="unsaved",
                message=f"{self._need_plan().title!r} has unsaved changes. Save them before {what}?",
                choices=("save", "discard", "cancel"),
                labels={"save": "Save", "discard": "Discard", "cancel": "Cancel"},
                action=answer,
            )
        )

    # -- plans: list, open, generate, save -----------------------------------------------
    def list_plans(self) -> list[Path]:
        """Plan files in :attr:`plans_dir`, sorted by name."""
        return self.session.list_plans()

    def _install(self, plan: ComicPlan) -> None:
        self.history.clear()
        with self.hold_trait_notifications():
            self.plan = plan
            self.selection = PlanPath(0, 0, 0)
            self.character_id = plan.characters[0].id if plan.characters else None
            self.focus = None
            self._changed()
        self._emit("plan")

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

    # -- applying edits and undo -----------------------------------------------------------
    def _state(self) -> tuple[PlanPath, str | None]:
        return (self.selection, self.character_id)

    def _changed(self) -> None:
        self.revision += 1
        self.dirty = self.session.is_dirty(self.plan)
        self.can_undo, self.can_redo = self.history.can_undo, self.history.can_redo

    def _clamp(self, where: PlanPath) -> PlanPath:
        plan = self._need_plan()
        if not plan.chapters:
            return PlanPath(0, 0, 0)
        c = max(0, min(where.chapter or 0, len(plan.chapters) - 1))
        pages = plan.chapters[c].pages
        p = max(0, min(where.page or 0, len(pages) - 1))
        panels = pages[p].panels if pages else []
        return PlanPath(c, p, max(0, min(where.panel or 0, len(panels) - 1)))

    def _place(self, selection: PlanPath, character_id: str | None) -> None:
        plan = self._need_plan()
        self.selection = self._clamp(selection)
        ids = [c.id for c in plan.characters]
        self.character_id = character_id if character_id in ids else (ids[0] if ids else None)

    def _apply(self, edited: Edited, *, event: str = "edit", coalesce: str | None = None) -> Edited:
        """Make ``edited`` the plan as one undo step; select ``edited.at``; status: its note."""
        plan = self._need_plan()
        if edited.plan.to_json_dict() == plan.to_json_dict():
            return edited
        self.history.record(Step(plan, self._state(), edited.note), coalesce)
        selection, character_id = self._state()
        if edited.at is not None and edited.at.character is not None:
            character_id = edited.plan.characters[edited.at.character].id
        elif edited.at is not None:
            selection = PlanPath(edited.at.chapter, edited.at.page, edited.at.panel)
        with self.hold_trait_notifications():
            self.plan = edited.plan
            self._place(selection, character_id)
            self.status, self.status_level = edited.note, "info"  # the status line shows the latest action only
            self._changed()
        self._emit(event)
        return edited

    def _travel(self, step: Step | None, verb: str) -> bool:
        if step is None:
            return False
        with self.hold_trait_notifications():
            self.plan = step.plan
            self._place(*step.selection)
            self._changed()
        self._emit("plan")
        self._set_status(f"{verb}: {step.label}")
        return True

    def undo(self) -> bool:
        """Undo the last edit; ``False`` when there is nothing to undo."""
        if self.plan is None:
            return False
        return self._travel(self.history.undo(Step(self.plan, self._state(), "")), "undid")

    def redo(self) -> bool:
        """Redo the last undone edit; ``False`` when there is nothing to redo."""
        if self.plan is None:
            return False
        return self._travel(self.history.redo(Step(self.plan, self._state(), "")), "redid")

    # -- navigation ----------------------------------------------------------------------
    def select(self, chapter: int | None = None, page: int | None = None, panel: int | None = None) -> None:
        """Select by 0-based indices; a new chapter selects its first page, a new page its first panel.

        Raises:
            EditRejected: an index is out of range.
        """
        plan = self._need_plan()
        c, p, k = self.chapter_index, self.page_index, self.panel_index
        if chapter is not None:
            if not 0 <= chapter < len(plan.chapters):
                raise EditRejected(f"no chapter {chapter}")
            c, p, k = chapter, (p if chapter == c else 0), (k if chapter == c else 0)
        if page is not None:
            pages = plan.chapters[c].pages
            if not 0 <= page < len(pages):
                raise EditRejected(f"no page {page} in chapter {plan.chapters[c].id!r}")
            p, k = page, (k if page == p else 0)
        if panel is not None:
            panels = plan.chapters[c].pages[p].panels
            if not 0 <= panel < len(panels):
                raise EditRejected(f"no panel {panel} on page {plan.chapters[c].pages[p].id!r}")
            k = panel
        with self.hold_trait_notifications():
            self.selection = PlanPath(c, p, k)
            self.focus = None
        self._emit("selection")

    def select_character(self, character_id: str | None) -> None:
        """Select a character (``None``: none).

        Raises:
            EditRejected: no such character.
        """
        if character_id is not None:
            edits.find_character(self._need_plan(), character_id)
        self.character_id = character_id
        self._emit("selection")

    def goto(self, path: str) -> str | None:
        """Select the place a JSON path names (as in :class:`~storybench.exceptions.PlanIssue`):
        ``chapters[0].pages[1].panels[2].dialogue[0].text`` selects that panel and sets
        :attr:`focus` to ``"dialogue[0].text"``; ``characters[1].name`` selects that character.

        Returns:
            The focus (the part of the path below the selection), or ``None``.

        Raises:
            EditRejected: the path names nothing in this plan.
        """
        plan = self._need_plan()
        where = PlanPath.parse(path)
        if where.character is not None:
            if not 0 <= where.character < len(plan.characters):
                raise EditRejected(f"no character at {path!r}")
            with self.hold_trait_notifications():
                self.character_id = plan.characters[where.character].id
                self.focus = where.field
        elif where.chapter is None:
            if path not in ROOT_FIELDS:
                raise EditRejected(f"cannot go to {path!r}")
            self.focus = path
        else:
            self._goto_page(plan, where, path)
        self._emit("selection")
        return self.focus

    def _goto_page(self, plan: ComicPlan, where: PlanPath, path: str) -> None:
        c, p, k = where.chapter or 0, where.page or 0, where.panel or 0
        if not (0 <= c < len(plan.chapters) and 0 <= p < max(1, len(plan.chapters[c].pages))):
            raise EditRejected(f"no such place: {path!r}")
        pages = plan.chapters[c].pages
        if pages and not 0 <= k < max(1, len(pages[p].panels)):
            raise EditRejected(f"no such panel: {path!r}")
        with self.hold_trait_notifications():
            self.selection = PlanPath(c, p, k)
            self.focus = where.below_panel

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
        c = edits.find_character(plan, character_id)
        used = edits.character_usage(plan, character_id)
        if used and on_used == "ask":
            others = [o for o in plan.characters if o.id != character_id]
            labels = {"remove_references": "Remove from panels (and delete their lines)", "cancel": "Cancel"}
            labels.update({f"replace_with:{o.id}": f"Replace with {o.name}" for o in others})
            return self._ask(
                Pending(
                    kind="character-in-use",
                    message=f"{c.name} appears in {len(used)} place(s). Remove them from the panels or replace them?",
                    choices=("remove_references", *(f"replace_with:{o.id}" for o in others), "cancel"),
                    labels=labels,
                    action=lambda choice: self.remove_character(character_id, on_used=choice),
                )
            )
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
        self._apply(edits.update_line(self._need_plan(), self.selection, index, speaker=speaker, text=text), coalesce=key)

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
