"""The story explorer's model: story settings, backend names and the reader's state as traits.

No ipywidgets import: the view (:mod:`storybench.story.explorer.view`) binds its
section widgets to these traits and calls these methods; tests can drive the model alone.

Generating actions (:meth:`ExplorerModel.start`, :meth:`~ExplorerModel.choose`,
:meth:`~ExplorerModel.regenerate`, :meth:`~ExplorerModel.continue_segment`) run where
they are called and return the segment; the view runs them through
:meth:`ExplorerModel.submit`, which (with ``background``) runs them off the kernel's
main thread so Stop stays live, and registers :meth:`ExplorerModel.stop` with the
kernel's Interrupt. After every new current segment the prefetcher
(:mod:`storybench.story.prefetch`) writes its choices' continuations ahead
(``prefetch``); every action stops it first. After a Start the LLM writes the story's
title in the background (:meth:`StoryEngine.write_title`); the writer may edit it.

A failed Start, Regenerate or Load never takes away the story on screen: Start writes
the new opening with a new engine and only switches to it when the opening is there;
the error (:class:`ActionFailed`) says what failed and that the story is unchanged.

Saving never writes over another story: :meth:`ExplorerModel.save` to a file holding
another story returns a :class:`~storybench.ui_kit.pending.Pending` (Overwrite / Save as
new / Cancel) answered through :meth:`ExplorerModel.resolve`; meanwhile the status says
that an answer is needed.

Traits the view observes:
    ``streaming_text`` (the segment being written, per chunk), ``revision`` (bumped when
    the graph or the current segment changes), ``image_revision`` (bumped when an
    illustration's status changes, possibly from the render thread), ``busy``,
    ``generating``, ``error``, ``status``, ``status_path``, ``pending``, ``title``,
    ``files`` (every file saved or exported for this story), ``library`` (saved stories).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storybench.exceptions import ConfigError, StorybenchError
from storybench.plan import save_plan
from storybench.planner.from_story import plan_from_story
from storybench.story.engine import StoryEngine
from storybench.story.explorer.state import ActionFailed, ExplorerState
from storybench.story.explorer.tree import TreeRow
from storybench.story.explorer.world_state import WorldState
from storybench.story.export import ExportKind, export_story
from storybench.story.folders import StoryConflict, new_story_path
from storybench.story.library import StoryEntry, list_stories
from storybench.story.memory import recall_index
from storybench.story.model import Segment, Story, StorySettings, load_story
from storybench.ui_kit.pending import Pending

__all__ = ["ActionFailed", "ExplorerModel", "TreeRow"]

log = logging.getLogger(__name__)

#: Seconds the LLM stays free for the reader after each segment before background work
#: (the illustration prompt, prefetching, the title) may use it: a click on a choice made
#: within that time goes straight to the LLM.
BACKGROUND_SETTLE_S = 1.5


class ExplorerModel(WorldState, ExplorerState):
    """State (:class:`ExplorerState`), world (:class:`WorldState`) and actions of the story explorer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.observe(self._title_edited, "title")
        self.observe(lambda _: self.apply_author_note(), ["author_note", "author_note_depth"])
        self.observe(self._recall_changed, "semantic_recall")

    # ----------------------------------------------------------- engines
    def _new_engine(self, story: Story, story_dir: Path | None = None, story_file: str = "story.json") -> StoryEngine:
        options = {"model": self.llm_model.strip()} if self.llm_model.strip() else {}
        return StoryEngine(
            story,
            llm=self.llm_backend,
            image_backend=self.image_backend or None,
            output_root=self.output_root,
            story_dir=story_dir,
            inline_images=self.inline_images,
            max_tokens=self.max_tokens,
            llm_options=options,
            on_image=self._image_changed,
            story_file=story_file,
            background_settle_s=BACKGROUND_SETTLE_S if self.background else 0.0,
            semantic_recall=self.semantic_recall,
        )

    def _switch_to(self, engine: StoryEngine) -> None:
        """Show ``engine``'s story from now on (the previous engine's threads are stopped)."""
        if self.prefetcher is not None:
            self.prefetcher.stop(timeout=5)
            self.prefetcher = None
        old, self.engine = self.engine, engine
        if old is not None and old is not engine:
            old.close()
        self.pending = None
        self.files = []
        self.title = engine.story.title

    def _generate(self, work: Callable[[StoryEngine], Segment], action: str = "") -> Segment:
        engine = self._need_engine()
        self._quiet_prefetch()
        self.streaming_text = ""
        try:
            return self._after_segment(work(engine))
        except (StorybenchError, OSError) as exc:
            if action and not isinstance(exc, ActionFailed):
                raise ActionFailed(action, exc) from exc
            raise
        finally:
            self.streaming_text = ""
            self.revision += 1  # the view redraws what is there (the old segment after a failure)

    # ----------------------------------------------------------- actions
    def start(self) -> Segment:
        """Start a new story (in its own new folder) from the settings and write its opening.
        The story on screen stays until the opening is written; a failure leaves it.

        Raises:
            ActionFailed: the settings are invalid (empty premise, unknown style, bad
                language tag) or the backends failed (unknown, missing, not answering).
        """
        try:
            settings = StorySettings(
                premise=self.premise,
                language=self.language,
                style=self.style,
                author_note=self.author_note.strip(),
                author_note_depth=max(0, self.author_note_depth),
            )
            engine = self._new_engine(Story(settings=settings, world=self.world))
        except (StorybenchError, ValueError) as exc:
            raise ActionFailed("Start", exc) from exc
        self._quiet_prefetch()
        self.streaming_text = ""
        self._starting = engine
        try:
            segment = engine.start(self._on_chunk)
        except KeyboardInterrupt:  # the kernel's Interrupt: the opening so far is kept, unfinished
            if engine.story.current is not None:
                self._switch_to(engine)
            self.streaming_text = ""
            self.revision += 1
            raise
        except BaseException as exc:
            engine.close()
            self.streaming_text = ""
            self.revision += 1
            if isinstance(exc, (StorybenchError, OSError, ValueError)):
                raise ActionFailed("Start", exc) from exc
            raise
        finally:
            self._starting = None
        self._switch_to(engine)
        self.status, self.status_path = "", ""
        self._after_segment(segment)
        if self.titles and not segment.unfinished:
            self._write_title(engine)
        return segment

    def _write_title(self, engine: StoryEngine) -> None:
        def work() -> None:
            # after the opening's illustration and the prefetch: a title request cannot be
            # given up half-way, so it must not sit in front of the reader's next click
            engine.wait_images(600)
            prefetcher = self.prefetcher
            if prefetcher is not None and prefetcher.engine is engine:
                prefetcher.wait(600)
            if self.engine is not engine:  # another story is on screen now: this one's engine is closed
                return
            try:
                title = engine.write_title()
            except Exception:  # a title is a nicety: the premise-based one stays
                log.debug("no title for story %s", engine.story.id, exc_info=True)
                return
            if title and self.engine is engine:
                self.title = title
                self.refresh_library()

        if not self.background:
            work()
            return
        self._title_job = threading.Thread(target=work, daemon=True, name="story-title")
        self._title_job.start()

    def _title_edited(self, change: dict[str, Any]) -> None:
        engine = self.engine
        new = str(change["new"]).strip()
        if engine is None or not new or new == engine.story.title:
            return
        engine.session.set_title(new)

    def choose(self, index: int) -> Segment:
        """Follow choice ``index`` of the current segment (at once when it was prefetched)."""
        return self._generate(lambda e: e.choose(index, self._on_chunk))

    def regenerate(self) -> Segment:
        """Write a new version of the current segment (the old one stays as a branch).

        Raises:
            ActionFailed: the LLM failed (the story is unchanged).
        """
        return self._generate(lambda e: e.regenerate(None, self._on_chunk), "Regenerate")

    def continue_segment(self) -> Segment:
        """Finish the current, unfinished segment (stopped earlier)."""

        def work(engine: StoryEngine) -> Segment:
            cur = engine.story.current
            self.streaming_text = cur.text if cur is not None else ""
            return engine.continue_segment(None, self._on_chunk)

        return self._generate(work)

    def back(self) -> Segment:
        """Go back to the parent of the current segment."""
        self._quiet_prefetch()
        seg = self._need_engine().back()
        self.revision += 1
        return seg

    def goto(self, segment_id: str) -> Segment:
        """Jump to any segment of the tree (marking it visited)."""
        self._quiet_prefetch()
        seg = self._need_engine().visit(segment_id)
        self.revision += 1
        return seg

    def retry_image(self) -> None:
        """Render the current segment's illustration again."""
        engine = self._need_engine()
        if self.current is not None:
            engine.retry_image(self.current.id)
            self.image_revision += 1

    # ------------------------------------------------------------- files
    def _wrote(self, note: str, written: Path) -> Path:
        self.status, self.status_path = f"{note} {written}", str(written)
        self.files = [*[f for f in self.files if f != str(written)], str(written)]
        return written

    def save(self, path: str | os.PathLike[str] | None = None) -> Path | Pending:
        """Save the story to its own file, or to ``path`` (which then becomes its file,
        its images copied beside it).

        Returns:
            The written path, or a :class:`Pending` when ``path`` holds another story:
            ``overwrite`` (write over it), ``new`` (save into a new folder beside it),
            ``cancel``; answer with :meth:`resolve`.

        Raises:
            ConfigError: no story yet. OSError: the file cannot be written.
        """
        engine = self._need_engine()
        target = Path(path).expanduser() if path else engine.story_path
        if target.is_dir():
            target = target / "story.json"
        same = target.resolve() == engine.story_path.resolve()
        try:
            written = self._wrote("Saved to", engine.save() if same else engine.save_as(target))
        except StoryConflict as conflict:
            return self._ask_overwrite(engine, target, conflict)
        self.refresh_library()
        return written

    def _ask_overwrite(self, engine: StoryEngine, target: Path, conflict: StoryConflict) -> Pending:
        def answer(choice: str) -> Path:
            if choice == "overwrite":
                written = engine.save_as(target, overwrite=True)
            else:
                written = engine.save_as(new_story_path(engine.story, target))
            self.refresh_library()
            return self._wrote("Saved to", written)

        other = f"“{conflict.other_title}”" if conflict.other_title else "another story"
        pending = Pending(
            kind="overwrite-story",
            message=f"{target} holds {other}. Overwrite it with “{engine.story.title}”?",
            choices=("overwrite", "new", "cancel"),
            labels={"overwrite": "Overwrite", "new": "Save as new", "cancel": "Cancel"},
            action=answer,
        )
        self.status, self.status_path = f"Not saved yet: {target} holds {other}; an answer is needed", ""
        self.pending = pending
        return pending

    def resolve(self, choice: str) -> Any:
        """Answer the pending question with one of its choices.

        Raises:
            ValueError: nothing is pending, or ``choice`` is not one of its choices.
        """
        pending = self.pending
        if pending is None:
            raise ValueError("no question is pending")
        pending.check(choice)
        self.pending = None
        if choice == "cancel" or pending.action is None:
            self.status, self.status_path = "Not saved", ""
            return None
        return pending.action(choice)

    def load(self, path: str | os.PathLike[str]) -> Story:
        """Open a saved story; its folder is the file's folder (images are found there).

        Raises:
            ActionFailed: not a valid story file, or it cannot be read (the story on
                screen is unchanged).
        """
        p = Path(path).expanduser()
        if p.is_dir():
            p = p / "story.json"
        try:
            story = load_story(p)
            engine = self._new_engine(story, story_dir=p.parent, story_file=p.name)
        except (StorybenchError, OSError, ValueError) as exc:
            raise ActionFailed("Load", exc) from exc
        self._switch_to(engine)
        self.premise, self.language, self.style = story.settings.premise, story.settings.language, story.settings.style
        self.author_note, self.author_note_depth = story.settings.author_note, story.settings.author_note_depth
        self.world_revision += 1
        cur = story.current
        if cur is not None and cur.image_status in ("pending", "rendering") and not cur.unfinished:
            engine.schedule_image(cur.id)  # saved while it was being drawn: draw it again
        self.revision += 1
        self.status, self.status_path = f"Loaded {p}", str(p)  # after the story is drawn
        return story

    def export(self, kind: ExportKind, path: str | os.PathLike[str] | None = None) -> Path:
        """Export the story as ``"twee"``, ``"markdown"``, ``"html"`` or ``"epub"`` into its folder (or ``path``).

        Raises:
            ValueError: unknown kind, or a story without segments.
        """
        engine = self._need_engine()
        written = export_story(engine.story, kind, path, story_dir=engine.story_dir)
        return self._wrote("Exported to", written)

    def _recall_changed(self, change: dict[str, Any]) -> None:
        """Turn recall by meaning on or off for the open story (the next segments use it)."""
        if self.engine is not None:
            self.engine.memory.semantic = recall_index(bool(change["new"]))

    def make_comic(self, max_pages: int = 3) -> Path:
        """Plan a comic of the path from the opening to the current segment
        (:func:`~storybench.planner.from_story.plan_from_story`, with the story's world) and
        save it beside the story as ``comic-<segment id>.json`` (:attr:`comic_plan`).

        Raises:
            ConfigError: no current segment. BackendError: the LLM failed.
        """
        engine = self._need_engine()
        cur = self.current
        if cur is None:
            raise ConfigError("no segment yet: start the story first")
        self._quiet_prefetch()
        with engine.gate.urgent():
            result = plan_from_story(
                engine.story, cur.id, max_pages=max_pages, llm=engine.llm, world=engine.story.world, seed=0
            )
        written = save_plan(result.plan, engine.story_dir / f"comic-{cur.id}.json")
        self.comic_plan = str(written)
        return self._wrote("Comic plan saved to", written)

    def refresh_library(self) -> list[StoryEntry]:
        """List the saved stories under ``output_root`` again (into :attr:`library`)."""
        self.library = list_stories(self.output_root)
        return self.library

    def close(self) -> None:
        """Stop the prefetch and the render thread of the current story."""
        if self.prefetcher is not None:
            self.prefetcher.stop(timeout=5)
        if self.engine is not None:
            self.engine.close()
