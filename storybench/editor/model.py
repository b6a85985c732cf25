"""The plan editor's model: a comic plan being edited, with selection, undo/redo,
a dirty marker, pending questions and validation. No ipywidgets here: the view
(:mod:`storybench.editor.view`) calls into this model and listens to its events.

Every edit is one undoable step (a snapshot of the plan JSON and the selection,
history bounded). Edits keep the page structure valid: panel counts always
match the layout (adding or removing a panel switches the layout, changing the
layout adds placeholder panels or moves surplus panels into the undo history with
a status note), positions and page numbers are renumbered after every move.
What a user may leave momentarily invalid (an empty dialogue line) is listed by
:meth:`PlanEditorModel.issues` with JSON paths that :meth:`PlanEditorModel.goto` jumps to.

Questions the user must answer (unsaved changes before switching plans, removing a
character used in panels) are not raised: the method returns a :class:`Pending`,
also kept in :attr:`PlanEditorModel.pending`, and :meth:`PlanEditorModel.resolve`
carries out the chosen answer.

Events passed to observers: ``"plan"`` (another plan or structure changed),
``"edit"`` (content changed), ``"selection"``, ``"pending"``, ``"status"``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import traitlets as t
from pydantic import ValidationError

from storybench.compose.capacity import lettering_warnings
from storybench.editor.preview import render_page_preview
from storybench.editor.stoppable import StoppableLLM
from storybench.exceptions import PlanIssue, StorybenchError
from storybench.plan.ids import unique_slug
from storybench.plan.loading import load_plan, save_plan
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES, layout_for_count, template_id
from storybench.plan.models import (
    SEED_MAX,
    Chapter,
    Character,
    ComicPlan,
    Dialogue,
    Page,
    PanelPlan,
    derive_seed,
    plan_issues,
)
from storybench.plan.styles import STYLES
from storybench.planner.planner import plan_comic, resolve_llm
from storybench.prompts.dialogue import context_from_panel, speakers_from_plan, write_dialogue
from storybench.prompts.enhance import enhance_prompt
from storybench.prompts.panel import panel_prompt
from storybench.ui_kit.pending import Pending

__all__ = ["PANEL_FIELDS", "PLACEHOLDER_ACTION", "EditRejected", "Pending", "PlanEditorModel"]

#: Action text of panels the editor adds; valid, and obviously to be replaced.
PLACEHOLDER_ACTION = "(new panel: describe what happens)"
#: Panel fields the form edits through :meth:`PlanEditorModel.update_panel`.
PANEL_FIELDS = ("action", "location", "mood", "camera", "narrative", "sfx", "characters")

Observer = Callable[[str], None]


class EditRejected(StorybenchError, ValueError):
    """An edit was refused (a value breaks the schema, or the edit would break the page);
    the plan is unchanged."""


_PATH = re.compile(r"^chapters\[(?P<c>\d+)\](?:\.pages\[(?P<p>\d+)\](?:\.panels\[(?P<k>\d+)\])?)?(?:\.(?P<rest>.+))?$")
_CHAR_PATH = re.compile(r"^characters\[(?P<i>\d+)\](?:\.(?P<rest>.+))?$")


_LEGACY = object()


class PlanEditorModel(t.HasTraits):
    """A comic plan under edit.

    Args:
        plans_dir: folder of plan files (``*.json``) the editor lists and saves to.
        llm: LLM backend (object or name) for generating plans and dialogue; ``None``: the default.
        history: how many undo steps are kept.

    Attributes:
        plan: the plan, or ``None`` before one is opened.
        path: the file the plan is saved to (``None``: not chosen yet).
        chapter_index, page_index, panel_index: the selection (0-based).
        character_id: the selected character, or ``None``.
        focus: the selected field inside the selection, set by :meth:`goto`
            (e.g. ``"dialogue[0].text"``, ``"action"``, ``"name"``), or ``None``.
        status: the last status note (what the latest action did, what was moved where).
        status_level: ``"warning"`` when the latest action left something to fix (a save
            with issues), else ``"info"``.
        pending: the open question, or ``None``.
        last_result: the :class:`~storybench.planner.PlanResult` of the last generation.

    Traits (for :func:`~storybench.ui_kit.busy.busy_action` and the view):
        busy: an action is running. generating: a plan is being generated (Stop is live).
        error: the last action's error message ("" when it worked).
    """

    busy = t.Bool(False)
    generating = t.Bool(False)
    error = t.Unicode("")

    def __init__(self, plans_dir: str | Path = "plans", *, llm: Any = None, history: int = 100) -> None:
        super().__init__()
        self.plans_dir = Path(plans_dir)
        self.llm = llm
        self.history = max(1, history)
        self.plan: ComicPlan | None = None
        self.path: Path | None = None
        self.chapter_index = 0
        self.page_index = 0
        self.panel_index = 0
        self.character_id: str | None = None
        self.focus: str | None = None
        self.status = ""
        self.status_level = "info"
        self.pending: Pending | None = None
        self.last_result: Any = None
        self._observers: list[Observer] = []
        self._undo: list[tuple[dict, tuple, str]] = []
        self._redo: list[tuple[dict, tuple, str]] = []
        self._saved_sha: str | None = None
        self._last_edit: tuple[str, float] | None = None
        self._stoppable: StoppableLLM | None = None

    def stop(self) -> None:
        """Stop the plan generation in progress (any thread; nothing when none runs)."""
        stoppable = self._stoppable
        if stoppable is not None:
            stoppable.stop()

    # -- observers ---------------------------------------------------------------
    def observe(self, handler: Any, names: Any = _LEGACY, type: str = "change") -> None:  # type: ignore[override]  # also the editor's event API
        """``observe(callback)``: call ``callback(event)`` after every change (see the module
        doc for events). With ``names``: traitlets' own ``observe`` of the traits."""
        if names is _LEGACY:
            self._observers.append(handler)
        else:
            super().observe(handler, names=names, type=type)

    def unobserve(self, handler: Any, names: Any = _LEGACY, type: str = "change") -> None:  # type: ignore[override]  # see observe
        """Stop calling ``handler`` (an event callback, or a trait observer with ``names``)."""
        if names is _LEGACY:
            if handler in self._observers:
                self._observers.remove(handler)
        else:
            super().unobserve(handler, names=names, type=type)

    def _emit(self, event: str) -> None:
        for cb in list(self._observers):
            cb(event)

    def _set_status(self, text: str, level: str = "info") -> None:
        self.status = text
        self.status_level = level
        self._emit("status")

    # -- state -------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """The plan differs from what was last opened or saved."""
        return self.plan is not None and self.plan.sha256() != self._saved_sha

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has an edit to take back."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether :meth:`redo` has an undone edit to apply again."""
        return bool(self._redo)

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
        prefix = f"chapters[{self.chapter_index}].pages[{self.page_index}].panels[{self.panel_index}]"
        return [w.message for w in self.lettering_warnings() if w.path == prefix]

    # -- plans: list, open, generate, save ------------------------------------------
    def list_plans(self) -> list[Path]:
        """Plan files in :attr:`plans_dir`, sorted by name."""
        return sorted(self.plans_dir.glob("*.json")) if self.plans_dir.is_dir() else []

    def _guard_unsaved(self, what: str, proceed: Callable[[], Any]) -> Pending | None:
        if not self.dirty:
            proceed()
            return None

        def answer(choice: str) -> None:
            if choice == "save":
                self.save()
                proceed()
            elif choice == "discard":
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

    def _ask(self, pending: Pending) -> Pending:
        self.pending = pending
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

    def _install(self, plan: ComicPlan, path: Path | None, saved: bool) -> None:
        self.plan = plan
        self.path = path
        self._saved_sha = plan.sha256() if saved else None
        self._undo.clear()
        self._redo.clear()
        self._last_edit = None
        self.chapter_index = self.page_index = self.panel_index = 0
        self.character_id = plan.characters[0].id if plan.characters else None
        self.focus = None
        self._emit("plan")

    def open_plan(self, path: str | Path) -> Pending | None:
        """Open a plan file (validated on load). With unsaved changes, returns a
        :class:`Pending` (``save``/``discard``/``cancel``) instead.

        Raises:
            FileNotFoundError, PlanValidationError: from :func:`storybench.plan.load_plan`.
        """
        path = Path(path)

        def proceed() -> None:
            plan = load_plan(path)
            self._install(plan, path, saved=True)
            self._set_status(f"opened {path}")

        return self._guard_unsaved(f"opening {path.name}", proceed)

    def set_plan(self, plan: ComicPlan, path: str | Path | None = None, *, saved: bool = False) -> Pending | None:
        """Edit ``plan`` (a copy); ``path`` is where Save writes (default
        ``plans_dir/<id>.json``). ``saved``: the plan is already on disk as is."""
        target = Path(path) if path else self.plans_dir / f"{plan.id}.json"

        def proceed() -> None:
            self._install(plan.model_copy(deep=True), target, saved=saved)
            self._set_status(f"editing {plan.title!r}")

        return self._guard_unsaved(f"switching to {plan.title!r}", proceed)

    def generate(
        self,
        prompt: str,
        *,
        style: str = "noir",
        max_pages: int = 5,
        language: str = "en",
        llm: Any = None,
        seed: int | None = None,
        on_progress: Callable[[Any], None] | None = None,
        progress: bool = False,
    ) -> Pending | None:
        """Plan a new comic from ``prompt`` (:func:`storybench.planner.plan_comic`) and edit it.
        The result (with its repairs) is kept in :attr:`last_result`; the plan is unsaved
        until :meth:`save`. With unsaved changes, returns a :class:`Pending` first.
        :meth:`stop` (from another thread: the view's Stop, the kernel's Interrupt) ends it
        within a fraction of a second with ``Cancelled``; the plan being edited is kept.

        Raises:
            ConfigError, BackendError: from ``plan_comic``.
            Cancelled: :meth:`stop` was called.
        """

        def proceed() -> None:
            stoppable = StoppableLLM(resolve_llm(llm or self.llm))
            self._stoppable = stoppable
            try:
                result = plan_comic(
                    prompt,
                    style=style,
                    max_pages=max_pages,
                    language=language,
                    llm=stoppable,
                    seed=seed,
                    progress=progress,
                    on_progress=on_progress,
                )
            finally:
                self._stoppable = None
            self.last_result = result
            taken = {p.stem for p in self.list_plans()}
            target = self.plans_dir / f"{unique_slug(result.plan.id, taken)}.json"
            self._install(result.plan, target, saved=False)
            self._set_status(
                f"planned {result.plan.page_count()} page(s) in {result.seconds:.1f} s"
                + (f" with {len(result.repairs)} repair(s)" if result.repairs else "")
            )

        return self._guard_unsaved("generating a new plan", proceed)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the plan atomically to ``path`` (default :attr:`path`); clears the dirty marker.

        Raises:
            EditRejected: no plan, or no path to save to.
        """
        plan = self._need_plan()
        target = Path(path) if path else self.path or self.plans_dir / f"{plan.id}.json"
        save_plan(plan, target)
        self.path = target
        self._saved_sha = plan.sha256()
        self._emit("edit")
        issues = self.issues()
        self._set_status(
            f"saved {target}" + (f" ({len(issues)} issue(s) left)" if issues else ""),
            "warning" if issues else "info",
        )
        return target

    # -- undo / redo -------------------------------------------------------------------
    def _selection(self) -> tuple:
        return (self.chapter_index, self.page_index, self.panel_index, self.character_id)

    def _restore(self, snap: dict, sel: tuple) -> None:
        self.plan = ComicPlan.model_validate(snap)
        self.chapter_index, self.page_index, self.panel_index, self.character_id = sel
        self._clamp()

    def _edit(
        self, label: str, fn: Callable[[ComicPlan], Any], *, event: str = "edit", coalesce: str | None = None
    ) -> Any:
        """Run ``fn(plan)`` as one undoable step; roll back and raise EditRejected on a schema error."""
        plan = self._need_plan()
        snap, sel = plan.to_json_dict(), self._selection()
        try:
            out = fn(plan)
        except ValidationError as exc:
            self._restore(snap, sel)
            err = exc.errors(include_url=False)[0]
            raise EditRejected(f"{label}: {err['msg']}") from None
        except (KeyError, ValueError) as exc:
            self._restore(snap, sel)
            raise EditRejected(f"{label}: {exc.args[0] if exc.args else exc}") from None
        if plan.to_json_dict() == snap:
            return out
        now = time.monotonic()
        same = (
            coalesce is not None
            and self._last_edit is not None
            and self._last_edit[0] == coalesce
            and now - self._last_edit[1] < 1.5
        )
        if not same:
            self._undo.append((snap, sel, label))
            del self._undo[: -self.history]
        self._redo.clear()
        self._last_edit = (coalesce, now) if coalesce else None
        self._clamp()
        self.status, self.status_level = label, "info"  # the status line shows the latest action only
        self._emit(event)
        return out

    def undo(self) -> bool:
        """Undo the last edit; ``False`` when there is nothing to undo."""
        if not self._undo or self.plan is None:
            return False
        snap, sel, label = self._undo.pop()
        self._redo.append((self.plan.to_json_dict(), self._selection(), label))
        self._restore(snap, sel)
        self._last_edit = None
        self._emit("plan")
        self._set_status(f"undid: {label}")
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; ``False`` when there is nothing to redo."""
        if not self._redo or self.plan is None:
            return False
        snap, sel, label = self._redo.pop()
        self._undo.append((self.plan.to_json_dict(), self._selection(), label))
        self._restore(snap, sel)
        self._last_edit = None
        self._emit("plan")
        self._set_status(f"redid: {label}")
        return True

    # -- navigation ----------------------------------------------------------------------
    def _clamp(self) -> None:
        plan = self.plan
        if plan is None or not plan.chapters:
            self.chapter_index = self.page_index = self.panel_index = 0
            return
        self.chapter_index = max(0, min(self.chapter_index, len(plan.chapters) - 1))
        pages = plan.chapters[self.chapter_index].pages
        self.page_index = max(0, min(self.page_index, len(pages) - 1))
        panels = pages[self.page_index].panels if pages else []
        self.panel_index = max(0, min(self.panel_index, len(panels) - 1))
        if self.character_id and self.character_id not in {c.id for c in plan.characters}:
            self.character_id = plan.characters[0].id if plan.characters else None

    def select(self, chapter: int | None = None, page: int | None = None, panel: int | None = None) -> None:
        """Select by 0-based indices; a new chapter selects its first page, a new page its first panel.

        Raises:
            EditRejected: an index is out of range.
        """
        plan = self._need_plan()
        if chapter is not None:
            if not 0 <= chapter < len(plan.chapters):
                raise EditRejected(f"no chapter {chapter}")
            if chapter != self.chapter_index:
                self.page_index = self.panel_index = 0
            self.chapter_index = chapter
        if page is not None:
            if not 0 <= page < len(self.chapter.pages):
                raise EditRejected(f"no page {page} in chapter {self.chapter.id!r}")
            if page != self.page_index:
                self.panel_index = 0
            self.page_index = page
        if panel is not None:
            if not 0 <= panel < len(self.page.panels):
                raise EditRejected(f"no panel {panel} on page {self.page.id!r}")
            self.panel_index = panel
        self.focus = None
        self._emit("selection")

    def select_character(self, character_id: str | None) -> None:
        """Select a character (``None``: none).

        Raises:
            EditRejected: no such character.
        """
        if character_id is not None:
            self._character(character_id)
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
        m = _CHAR_PATH.match(path)
        if m:
            i = int(m["i"])
            if not 0 <= i < len(plan.characters):
                raise EditRejected(f"no character at {path!r}")
            self.character_id = plan.characters[i].id
            self.focus = m["rest"]
            self._emit("selection")
            return self.focus
        m = _PATH.match(path)
        if not m:
            if path in ("style", "title", "language", "id", "chapters", "characters"):
                self.focus = path
                self._emit("selection")
                return path
            raise EditRejected(f"cannot go to {path!r}")
        c = int(m["c"])
        p = int(m["p"]) if m["p"] is not None else 0
        k = int(m["k"]) if m["k"] is not None else 0
        if not (0 <= c < len(plan.chapters) and 0 <= p < max(1, len(plan.chapters[c].pages))):
            raise EditRejected(f"no such place: {path!r}")
        pages = plan.chapters[c].pages
        if pages and not 0 <= k < max(1, len(pages[p].panels)):
            raise EditRejected(f"no such panel: {path!r}")
        self.chapter_index, self.page_index, self.panel_index = c, p, k
        self.focus = m["rest"]
        self._emit("selection")
        return self.focus

    # -- characters ------------------------------------------------------------------------
    def _character(self, character_id: str) -> Character:
        try:
            return self._need_plan().character(character_id)
        except KeyError as exc:
            raise EditRejected(exc.args[0]) from None

    def character_usage(self, character_id: str) -> list[str]:
        """JSON paths of every panel character and dialogue line that names ``character_id``."""
        out = []
        for ci, ch in enumerate(self._need_plan().chapters):
            for pi, pg in enumerate(ch.pages):
                for ki, pan in enumerate(pg.panels):
                    base = f"chapters[{ci}].pages[{pi}].panels[{ki}]"
                    out += [f"{base}.characters[{i}]" for i, c in enumerate(pan.characters) if c == character_id]
                    out += [
                        f"{base}.dialogue[{i}].character"
                        for i, d in enumerate(pan.dialogue)
                        if d.character == character_id
                    ]
        return out

    def add_character(self, name: str, appearance: str = "", clothing: str = "", role: str = "") -> str:
        """Add a character with a fresh id (``char-N``) and a derived seed; selects it and returns its id.

        Raises:
            EditRejected: empty name or a field too long.
        """
        if not name.strip():
            raise EditRejected("a character needs a name")
        plan = self._need_plan()
        taken = {c.id for c in plan.characters}
        n = len(taken) + 1
        while f"char-{n}" in taken:
            n += 1
        cid = f"char-{n}"

        def do(plan: ComicPlan) -> None:
            c = Character(
                id=cid, name=name, appearance=appearance, clothing=clothing, role=role, seed=derive_seed(plan.id, cid)
            )
            plan.characters = [*plan.characters, c]

        self._edit(f"add character {name}", do, event="plan")
        self.character_id = cid
        self._emit("selection")
        return cid

    def update_character(self, character_id: str, **fields: Any) -> None:
        """Set ``name``, ``appearance``, ``clothing`` or ``role`` of a character.

        Raises:
            EditRejected: unknown character or field, empty name, value too long.
        """
        allowed = {"name", "appearance", "clothing", "role"}
        bad = set(fields) - allowed
        if bad:
            raise EditRejected(
                f"cannot edit {', '.join(sorted(bad))} of a character; editable: {', '.join(sorted(allowed))}"
            )
        if "name" in fields and not str(fields["name"]).strip():
            raise EditRejected("a character needs a name")
        c = self._character(character_id)

        def do(plan: ComicPlan) -> None:
            for k, v in fields.items():
                setattr(c, k, v)

        self._edit(f"edit {c.name}", do, coalesce=f"char:{character_id}:{','.join(sorted(fields))}")

    def regenerate_seed(self, character_id: str, rng: random.Random | None = None) -> int:
        """Give a character a new random seed (a new look); returns it."""
        c = self._character(character_id)
        seed = (rng or random.Random()).randint(0, SEED_MAX)
        self._edit(f"new seed for {c.name}", lambda plan: setattr(c, "seed", seed))
        return seed

    def pin_seed(self, character_id: str, seed: int) -> None:
        """Set a character's seed to ``seed`` (``0..2**31-1``), e.g. one whose look you liked.

        Raises:
            EditRejected: seed out of range.
        """
        c = self._character(character_id)
        self._edit(f"pin seed of {c.name}", lambda plan: setattr(c, "seed", seed))

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
        c = self._character(character_id)
        used = self.character_usage(character_id)
        if used and on_used == "ask":
            others = [o for o in self._need_plan().characters if o.id != character_id]
            choices = ("remove_references", *(f"replace_with:{o.id}" for o in others), "cancel")
            labels = {"remove_references": "Remove from panels (and delete their lines)", "cancel": "Cancel"}
            labels.update({f"replace_with:{o.id}": f"Replace with {o.name}" for o in others})
            return self._ask(
                Pending(
                    kind="character-in-use",
                    message=f"{c.name} appears in {len(used)} place(s). Remove them from the panels or replace them?",
                    choices=choices,
                    labels=labels,
                    action=lambda choice: self.remove_character(character_id, on_used=choice),
                )
            )
        replacement: str | None = None
        if used and on_used.startswith("replace_with:"):
            replacement = on_used.split(":", 1)[1]
            if replacement == character_id:
                raise EditRejected("cannot replace a character with itself")
            self._character(replacement)
        elif used and on_used != "remove_references":
            raise EditRejected(f"on_used must be 'ask', 'remove_references' or 'replace_with:<id>', got {on_used!r}")

        removed_lines = 0

        def do(plan: ComicPlan) -> None:
            nonlocal removed_lines
            for _, page in plan.pages():
                for pan in page.panels:
                    cast = (
                        [replacement if x == character_id else x for x in pan.characters]
                        if replacement
                        else [x for x in pan.characters if x != character_id]
                    )
                    pan.characters = list(dict.fromkeys(cast))
                    lines = []
                    for d in pan.dialogue:
                        if d.character != character_id:
                            lines.append(d)
                        elif replacement:
                            lines.append(Dialogue(character=replacement, text=d.text))
                        else:
                            removed_lines += 1
                    pan.dialogue = lines
            plan.characters = [x for x in plan.characters if x.id != character_id]

        self._edit(f"remove character {c.name}", do, event="plan")
        if replacement:
            note = f"removed {c.name}; {len(used)} reference(s) now point to {self._character(replacement).name}"
        elif used:
            note = (
                f"removed {c.name} from {len(used)} place(s), {removed_lines} dialogue line(s) deleted "
                "(Undo restores them)"
            )
        else:
            note = f"removed {c.name}"
        self._set_status(note)
        return None

    # -- chapters and pages ---------------------------------------------------------------------
    def _renumber(self, plan: ComicPlan) -> None:
        n = 0
        for ch in plan.chapters:
            for pg in ch.pages:
                n += 1
                if pg.page_number != n:
                    pg.page_number = n
                for k, pan in enumerate(pg.panels, start=1):
                    if pan.position != k:
                        pan.position = k

    def _fresh_id(self, plan: ComicPlan, prefix: str) -> str:
        return self._fresh_ids(plan, prefix, 1)[0]

    def _fresh_ids(self, plan: ComicPlan, prefix: str, count: int) -> list[str]:
        taken = {plan.id} | {c.id for c in plan.characters}
        for ch in plan.chapters:
            taken.add(ch.id)
            for pg in ch.pages:
                taken.add(pg.id)
                taken.update(p.id for p in pg.panels)
        out: list[str] = []
        n = 1
        while len(out) < count:
            if f"{prefix}{n}" not in taken:
                out.append(f"{prefix}{n}")
            n += 1
        return out

    def _new_panel(self, plan: ComicPlan, page_id: str, location: str = "") -> PanelPlan:
        return PanelPlan(
            id=self._fresh_id(plan, f"{page_id}-pan"), position=1, action=PLACEHOLDER_ACTION, location=location
        )

    def add_chapter(self, title: str = "New chapter") -> None:
        """Add a chapter with one single-panel page after the selected chapter and select it."""

        def do(plan: ComicPlan) -> None:
            cid = self._fresh_id(plan, "ch")
            pid = self._fresh_id(plan, f"{cid}-p")
            page = Page(id=pid, page_number=1, layout="single", panels=[self._new_panel(plan, pid)])
            chapters = list(plan.chapters)
            chapters.insert(self.chapter_index + 1, Chapter(id=cid, title=title, pages=[page]))
            plan.chapters = chapters
            self._renumber(plan)
            self.chapter_index, self.page_index, self.panel_index = self.chapter_index + 1, 0, 0

        self._edit("add chapter", do, event="plan")

    def rename_chapter(self, title: str) -> None:
        """Set the selected chapter's title."""
        ch = self.chapter
        self._edit("rename chapter", lambda plan: setattr(ch, "title", title), coalesce=f"chapter:{ch.id}")

    def remove_chapter(self) -> None:
        """Remove the selected chapter (its pages go to the undo history).

        Raises:
            EditRejected: it is the only chapter.
        """
        if len(self._need_plan().chapters) < 2:
            raise EditRejected("a plan needs at least one chapter")
        ch = self.chapter

        def do(plan: ComicPlan) -> None:
            plan.chapters = [c for c in plan.chapters if c.id != ch.id]
            self._renumber(plan)
            self.page_index = self.panel_index = 0

        self._edit(f"remove chapter {ch.title}", do, event="plan")
        self._set_status(f"removed chapter {ch.title!r} with {len(ch.pages)} page(s) (Undo restores it)")

    def add_page(self, layout: str = "single") -> None:
        """Add a page after the selected one (placeholder panels for ``layout``) and select it.

        Raises:
            EditRejected: unknown layout, or the plan already has 20 pages.
        """
        if layout not in TEMPLATES:
            raise EditRejected(f"unknown layout {layout!r}; known: {', '.join(TEMPLATE_IDS)}")
        new_layout = template_id(layout)
        plan0 = self._need_plan()
        if plan0.page_count() >= 20:
            raise EditRejected("a plan has at most 20 pages")

        def do(plan: ComicPlan) -> None:
            ch = plan.chapters[self.chapter_index]
            pid = self._fresh_id(plan, f"{ch.id}-p")
            location = self.page.panels[-1].location if ch.pages else ""
            ids = self._fresh_ids(plan, f"{pid}-pan", TEMPLATES[layout].panel_count)
            panels = [PanelPlan(id=i, position=1, action=PLACEHOLDER_ACTION, location=location) for i in ids]
            page = Page(id=pid, page_number=1, layout=new_layout, panels=panels)
            pages = list(ch.pages)
            pages.insert(self.page_index + 1 if pages else 0, page)
            ch.pages = pages
            self._renumber(plan)
            self.page_index = pages.index(page)
            self.panel_index = 0

        self._edit("add page", do, event="plan")

    def remove_page(self) -> None:
        """Remove the selected page (it goes to the undo history); an emptied chapter is removed too.

        Raises:
            EditRejected: it is the plan's only page.
        """
        plan0 = self._need_plan()
        if plan0.page_count() < 2:
            raise EditRejected("a plan needs at least one page")
        pg = self.page

        def do(plan: ComicPlan) -> None:
            ch = plan.chapters[self.chapter_index]
            ch.pages = [p for p in ch.pages if p.id != pg.id]
            if not ch.pages:
                plan.chapters = [c for c in plan.chapters if c.id != ch.id]
                self.page_index = 0
            self._renumber(plan)

        self._edit(f"remove page {pg.page_number}", do, event="plan")
        self._set_status(f"removed page {pg.page_number} ({pg.id}, {len(pg.panels)} panel(s)); Undo restores it")

    def move_page(self, delta: int) -> None:
        """Move the selected page ``delta`` places (``-1`` earlier, ``+1`` later) within its
        chapter, or into the neighbouring chapter at an edge; page numbers are renumbered.

        Raises:
            EditRejected: nowhere to move.
        """
        plan0 = self._need_plan()
        flat = [(ci, pg) for ci, ch in enumerate(plan0.chapters) for pg in ch.pages]
        index = next(i for i, (_, pg) in enumerate(flat) if pg.id == self.page.id)
        target = index + delta
        if delta == 0 or not 0 <= target < len(flat):
            raise EditRejected("the page cannot move further")
        pg = self.page

        def do(plan: ComicPlan) -> None:
            ch = plan.chapters[self.chapter_index]
            pi = self.page_index
            new_pi = pi + delta
            if 0 <= new_pi < len(ch.pages):
                pages = list(ch.pages)
                pages.insert(new_pi, pages.pop(pi))
                ch.pages = pages
                self.page_index = new_pi
            else:  # cross into the neighbouring chapter
                if len(ch.pages) == 1:
                    raise ValueError("moving the only page of a chapter out would leave the chapter empty")
                step = 1 if delta > 0 else -1
                other = plan.chapters[self.chapter_index + step]
                ch.pages = [p for p in ch.pages if p.id != pg.id]
                moved = list(other.pages)
                moved.insert(0 if step > 0 else len(moved), pg)
                other.pages = moved
                self.chapter_index += step
                self.page_index = 0 if step > 0 else len(moved) - 1
            self._renumber(plan)

        self._edit(f"move page {pg.page_number}", do, event="plan")

    # -- layout and panels ---------------------------------------------------------------------
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
        new_layout = template_id(layout)
        page0 = self.page
        if layout == page0.layout:
            return None
        need = TEMPLATES[layout].panel_count
        removed: list[PanelPlan] = []

        def has_text(p: PanelPlan) -> bool:
            return bool(p.dialogue or p.narrative or p.sfx or (p.action and p.action != PLACEHOLDER_ACTION))

        surplus_n = len(page0.panels) - need
        if surplus_n > 0 and on_surplus != "drop":
            order = sorted(range(len(page0.panels)), key=lambda i: (has_text(page0.panels[i]), -i))
            doomed = [page0.panels[i] for i in sorted(order[:surplus_n])]
            if any(has_text(p) for p in doomed):
                if on_surplus == "ask":
                    names = ", ".join(f"panel {p.position}" for p in doomed)
                    return self._ask(
                        Pending(
                            kind="drop-panels",
                            message=(
                                f"Layout {layout!r} holds {need} panel(s): {names} would not fit "
                                f"on page {page0.page_number}."
                            ),
                            choices=("new_page", "drop", "cancel"),
                            labels={"new_page": "Move to a new page", "drop": "Drop them", "cancel": "Cancel"},
                            action=lambda choice: self.set_layout(layout, on_surplus=choice),
                        )
                    )
                self._move_to_new_page(layout, doomed)
                return None

        def do(plan: ComicPlan) -> None:
            page = plan.chapters[self.chapter_index].pages[self.page_index]
            panels = list(page.panels)
            while len(panels) < need:
                loc = panels[-1].location if panels else ""
                panels.append(self._new_panel(plan, page.id, loc))
                page.panels = panels  # so the next fresh id sees it
            surplus = len(panels) - need
            if surplus > 0:
                order = sorted(range(len(panels)), key=lambda i: (has_text(panels[i]), -i))
                drop = set(order[:surplus])
                removed.extend(panels[i] for i in sorted(drop))
                panels = [p for i, p in enumerate(panels) if i not in drop]
            page.panels = panels
            page.layout = new_layout
            self._renumber(plan)

        self._edit(f"layout {page0.layout} → {layout}", do, event="plan")
        self._layout_note(layout, need, removed)
        return None

    def _layout_note(self, layout: str, need: int, removed: list[PanelPlan]) -> None:
        if removed:
            names = ", ".join(f"{p.id} ({p.action[:30]!r})" for p in removed)
            self._set_status(
                f"layout {layout!r} holds {need} panel(s): moved {names} to the undo history; Undo restores them"
            )
        else:
            self._set_status(f"layout is now {layout!r}")

    def _move_to_new_page(self, layout: str, moved: list[PanelPlan]) -> None:
        """One undo step: the page gets ``layout`` and ``moved`` go to a new page after it."""
        moved_ids = {p.id for p in moved}
        ci, pi = self.chapter_index, self.page_index
        if self._need_plan().page_count() >= 20:
            raise EditRejected("a plan has at most 20 pages: drop the panels or remove a page first")

        def do(plan: ComicPlan) -> None:
            chapter = plan.chapters[ci]
            page = chapter.pages[pi]
            keep = [p for p in page.panels if p.id not in moved_ids]
            carry = [p for p in page.panels if p.id in moved_ids]
            page.panels = keep
            page.layout = template_id(layout)
            new_page = Page(
                id=self._fresh_id(plan, f"{chapter.id}-p"),
                page_number=page.page_number + 1,
                layout=template_id(layout_for_count(len(carry)) or layout),
                panels=carry,
            )
            pages = list(chapter.pages)
            pages.insert(pi + 1, new_page)
            chapter.pages = pages
            self._renumber(plan)

        self._edit(f"layout {layout} (moved {len(moved)} panel(s) to a new page)", do, event="plan")
        self._set_status(f"layout is now {layout!r}; moved {len(moved)} panel(s) to a new page after this one")

    def add_panel(self) -> None:
        """Add a panel after the selected one; the layout switches to one with one more panel.

        Raises:
            EditRejected: the page already has the most panels a layout holds (5).
        """
        n = len(self.page.panels) + 1
        layout = layout_for_count(n)
        if layout is None:
            raise EditRejected(f"no layout holds {n} panels")

        def do(plan: ComicPlan) -> None:
            page = plan.chapters[self.chapter_index].pages[self.page_index]
            panels = list(page.panels)
            panels.insert(self.panel_index + 1, self._new_panel(plan, page.id, panels[self.panel_index].location))
            page.panels = panels
            page.layout = layout
            self._renumber(plan)
            self.panel_index += 1

        self._edit("add panel", do, event="plan")
        self._set_status(f"added a panel; layout is now {layout!r}")

    def remove_panel(self) -> None:
        """Remove the selected panel (to the undo history); the layout switches to one with one panel fewer.

        Raises:
            EditRejected: it is the page's only panel.
        """
        n = len(self.page.panels) - 1
        if n < 1:
            raise EditRejected("a page needs at least one panel; remove the page instead")
        layout = layout_for_count(n)
        if layout is None:
            raise EditRejected(f"no layout holds {n} panels")
        pan = self.panel

        def do(plan: ComicPlan) -> None:
            page = plan.chapters[self.chapter_index].pages[self.page_index]
            page.panels = [p for p in page.panels if p.id != pan.id]
            page.layout = layout
            self._renumber(plan)

        self._edit(f"remove panel {pan.id}", do, event="plan")
        self._set_status(f"removed panel {pan.id}; layout is now {layout!r} (Undo restores it)")

    def move_panel(self, delta: int) -> None:
        """Move the selected panel ``delta`` places in reading order; positions are renumbered.

        Raises:
            EditRejected: nowhere to move.
        """
        panels = self.page.panels
        target = self.panel_index + delta
        if delta == 0 or not 0 <= target < len(panels):
            raise EditRejected("the panel cannot move further")

        def do(plan: ComicPlan) -> None:
            page = plan.chapters[self.chapter_index].pages[self.page_index]
            items = list(page.panels)
            items.insert(target, items.pop(self.panel_index))
            page.panels = items
            self._renumber(plan)
            self.panel_index = target

        self._edit("move panel", do, event="plan")

    def update_panel(self, **fields: Any) -> None:
        """Set fields of the selected panel: ``action``, ``location``, ``mood``, ``camera``,
        ``narrative``, ``sfx`` (``""`` clears the last two), ``characters`` (ids).

        Raises:
            EditRejected: unknown field, unknown character id, value too long.
        """
        bad = set(fields) - set(PANEL_FIELDS)
        if bad:
            raise EditRejected(f"cannot edit {', '.join(sorted(bad))}; editable: {', '.join(PANEL_FIELDS)}")
        if "characters" in fields:
            known = {c.id for c in self._need_plan().characters}
            unknown = [c for c in fields["characters"] if c not in known]
            if unknown:
                raise EditRejected(f"unknown character(s) {', '.join(unknown)}")
            fields["characters"] = list(dict.fromkeys(fields["characters"]))
        for key in ("narrative", "sfx"):
            if key in fields and not (fields[key] or "").strip():
                fields[key] = None
        pan = self.panel

        def do(plan: ComicPlan) -> None:
            for k, v in fields.items():
                setattr(pan, k, v)

        self._edit(f"edit {', '.join(fields)} of {pan.id}", do, coalesce=f"panel:{pan.id}:{','.join(sorted(fields))}")

    # -- dialogue rows ------------------------------------------------------------------------------
    def add_line(self, speaker: str | None = None, text: str = "") -> int:
        """Append a dialogue line to the selected panel; returns its index. The speaker
        defaults to the panel's first character (or the plan's first).

        Raises:
            EditRejected: no characters in the plan, unknown speaker.
        """
        plan = self._need_plan()
        pan = self.panel
        speaker = speaker or (
            pan.characters[0] if pan.characters else (plan.characters[0].id if plan.characters else None)
        )
        if speaker is None:
            raise EditRejected("add a character before writing dialogue")
        self._character(speaker)

        def do(plan: ComicPlan) -> None:
            pan.dialogue = [*pan.dialogue, Dialogue(character=speaker, text=text)]

        self._edit("add dialogue line", do)
        return len(pan.dialogue) - 1

    def _line_index(self, index: int) -> int:
        if not 0 <= index < len(self.panel.dialogue):
            raise EditRejected(f"panel {self.panel.id!r} has no dialogue line {index}")
        return index

    def update_line(self, index: int, *, speaker: str | None = None, text: str | None = None) -> None:
        """Change a dialogue line's speaker and/or text.

        Raises:
            EditRejected: no such line, unknown speaker, text too long.
        """
        self._line_index(index)
        if speaker is not None:
            self._character(speaker)
        pan = self.panel

        def do(plan: ComicPlan) -> None:
            line = pan.dialogue[index]
            if speaker is not None:
                line.character = speaker
            if text is not None:
                line.text = text

        self._edit("edit dialogue", do, coalesce=f"line:{pan.id}:{index}:{speaker is None}")

    def remove_line(self, index: int) -> None:
        """Delete a dialogue line (Undo restores it)."""
        self._line_index(index)
        pan = self.panel

        def do(plan: ComicPlan) -> None:
            lines = list(pan.dialogue)
            lines.pop(index)
            pan.dialogue = lines

        self._edit("remove dialogue line", do)

    def move_line(self, index: int, delta: int) -> None:
        """Move a dialogue line ``delta`` places (balloon reading order).

        Raises:
            EditRejected: nowhere to move.
        """
        self._line_index(index)
        pan = self.panel
        target = index + delta
        if delta == 0 or not 0 <= target < len(pan.dialogue):
            raise EditRejected("the line cannot move further")

        def do(plan: ComicPlan) -> None:
            lines = list(pan.dialogue)
            lines.insert(target, lines.pop(index))
            pan.dialogue = lines

        self._edit("move dialogue line", do)

    # -- helpers from prompts ------------------------------------------------------------------------
    def write_panel_dialogue(
        self, dialogue_type: str, n_lines: int = 2, *, llm: Any = None, seed: int | None = None
    ) -> int:
        """Write ``n_lines`` lines for the selected panel with the LLM
        (:func:`storybench.prompts.dialogue.write_dialogue`), appended as one undoable edit.

        Returns:
            How many lines were added.

        Raises:
            ConfigError, BackendError: from ``write_dialogue``.
        """
        plan = self._need_plan()
        pan = self.panel
        speakers = speakers_from_plan(plan, [pan.id])
        lines = write_dialogue(
            speakers,
            context_from_panel(pan),
            dialogue_type,
            n_lines,
            llm=llm or self.llm,
            language=plan.language,
            seed=seed,
        )

        def do(plan: ComicPlan) -> None:
            pan.dialogue = list(pan.dialogue) + lines
            pan.characters = list(dict.fromkeys(list(pan.characters) + [d.character for d in lines]))

        self._edit(f"write {dialogue_type} dialogue", do)
        return len(lines)

    def enhanced_prompt(self, **presets: Any) -> Any:
        """The selected panel's image prompt enhanced with presets
        (:func:`storybench.prompts.enhance.enhance_prompt`; keyword ``style``, ``lighting``,
        ``mood``, ``quality``). Read-only: the plan is not changed."""
        positive, _ = panel_prompt(self._need_plan(), self.panel)
        return enhance_prompt(positive, max_chars=1000, **presets)

    def page_preview(self, page_width: int = 600) -> tuple[Any, str]:
        """A small preview of the selected page: ``(PIL.Image or None, message)``.
        Never raises: a missing composition module or an invalid page gives a message."""
        if self.plan is None:
            return None, "no plan open"
        try:
            return render_page_preview(self.plan, self.page, page_width), ""
        except ImportError as exc:
            return None, f"page preview unavailable: {exc}"
        except Exception as exc:
            return None, f"page preview failed: {exc}"
