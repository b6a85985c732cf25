"""The plan editor's state: the plan under edit, its selection and open question as traits,
and the one way a plan changes (:meth:`EditorState._apply` an edit as one undo step).

:class:`EditorState` is the base of :class:`~storybench.editor.model.PlanEditorModel`
(which adds opening, saving and the edits themselves). No ipywidgets here.

Traits the view observes: ``revision`` (bumped on every change of the plan), ``selection``
(chapter, page and panel as a :class:`~storybench.plan.paths.PlanPath`), ``character_id``,
``focus``, ``status``, ``status_level``, ``pending``, ``dirty``, ``can_undo``, ``can_redo``,
``busy``, ``generating``, ``error``. :meth:`EditorState.on_event` also passes the coarse
events ``"plan"`` (another plan or structure changed), ``"edit"`` (content changed),
``"selection"``, ``"pending"``, ``"status"`` to a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import traitlets as t

from storybench.compose.capacity import lettering_warnings
from storybench.editor.assist import PlanAssist
from storybench.editor.history import History, Step
from storybench.editor.session import PlanSession
from storybench.exceptions import PlanIssue
from storybench.plan import edits
from storybench.plan.edits import Edited, EditRejected
from storybench.plan.models import Chapter, ComicPlan, Page, PanelPlan, plan_issues
from storybench.plan.paths import PlanPath
from storybench.plan.styles import STYLES
from storybench.ui_kit.pending import Pending

__all__ = ["ROOT_FIELDS", "EditorState", "ModelEvent"]

#: Plan-level paths :meth:`EditorState.goto` accepts besides chapters and characters.
ROOT_FIELDS = ("style", "title", "language", "id", "chapters", "characters")


class ModelEvent:
    """One coarse event (a new object each time, so the ``event`` trait always notifies)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class EditorState(t.HasTraits):
    """A comic plan under edit: state, selection, questions, undo.

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
                self.session.save(self._need_plan())
                self._changed()
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

    def _install(self, plan: ComicPlan) -> None:
        self.history.clear()
        with self.hold_trait_notifications():
            self.plan = plan
            self.selection = PlanPath(0, 0, 0)
            self.character_id = plan.characters[0].id if plan.characters else None
            self.focus = None
            self._changed()
        self._emit("plan")

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
