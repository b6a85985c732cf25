"""The illustrator: a story's segment illustrations, made one at a time after their text.

:class:`Illustrator` owns its render thread (one worker: illustrations are made in
order) and the futures of the work it scheduled. For one segment: the illustration
prompt from its text (:class:`~storybench.story.illustration.IllustrationPrompter`,
which enters the story's LLM gate as background work and gives the LLM up whenever
the reader asks for a segment), the looks of the world's characters the segment names
(:func:`with_appearance`) and, for a backend that takes reference images, their character
sheets (:mod:`storybench.story.sheets`), the render through the image backend, the file
written atomically to ``<story_dir>/images/<segment_id>.<ext>``. A failure only marks
the segment ``failed`` with its error; :meth:`Illustrator.retry` tries again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from storybench.exceptions import BackendError, ConfigError, StorybenchError
from storybench.files import atomic_write_bytes
from storybench.render.base import ImageBackend
from storybench.story.illustration import IllustrationPrompter, illustration_render_spec
from storybench.story.model import Segment
from storybench.story.session import StorySession
from storybench.story.sheets import reference_sheets
from storybench.world.characters import appearance_lines, characters_in
from storybench.world.model import World

__all__ = ["Illustrator", "with_appearance"]


def with_appearance(prompt: str, world: World | None, text: str, max_chars: int = 200) -> str:
    """``prompt`` followed by ``"Name: description"`` of each world character ``text`` names
    (each cut to ``max_chars`` characters), so their look reaches the image; ``prompt``
    unchanged when there is no world or nobody is named."""
    if world is None or not world.characters:
        return prompt
    lines = appearance_lines(characters_in(world, text), max_chars)
    return "; ".join([prompt.strip().rstrip("."), *lines]) if lines else prompt


class Illustrator:
    """Schedules, renders and cancels one story's illustrations.

    Args:
        session: the story's session (its folder, state lock and autosave).
        backend: gives the image backend (``None``: images are off); called on first use.
        prompter: gives the illustration prompter; called on first use.
        enabled: whether images are on at all (an image backend is named).
        inline: render in the calling thread (tests, scripts).
        on_image: called (from the render thread) with a segment whose image status changed.
    """

    def __init__(
        self,
        session: StorySession,
        *,
        backend: Callable[[], ImageBackend | None],
        prompter: Callable[[], IllustrationPrompter],
        enabled: bool,
        inline: bool = False,
        on_image: Callable[[Segment], None] | None = None,
    ) -> None:
        self.session = session
        self._backend = backend
        self._prompter = prompter
        self.enabled = enabled
        self.inline = inline
        self.on_image = on_image
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}

    def schedule(self, segment_id: str) -> Future[None] | None:
        """Illustrate ``segment_id`` in the render thread (here with ``inline``).

        Returns:
            The future of the work, or ``None`` when images are off or it ran inline.
        """
        if not self.enabled:
            return None
        seg = self.session.story.segment(segment_id)
        with self.session.lock:
            seg.image_status, seg.image_error = "pending", ""
        if self.inline:
            self._illustrate(segment_id)
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"story-{self.session.story.id}")
        fut = self._executor.submit(self._illustrate, segment_id)
        self._futures[segment_id] = fut
        return fut

    def cancel(self, segment_id: str) -> bool:
        """Drop a scheduled illustration that has not started; the segment is marked
        ``failed`` with "stopped" (Retry image renders it).

        Returns:
            Whether it was dropped.
        """
        fut = self._futures.get(segment_id)
        if fut is None or not fut.cancel():
            return False
        self._set(self.session.story.segment(segment_id), image_status="failed", image_error="stopped")
        return True

    def future(self, segment_id: str) -> Future[None] | None:
        """The future of a segment's scheduled illustration, ``None`` when none was scheduled."""
        return self._futures.get(segment_id)

    def busy_with(self, segment_id: str) -> bool:
        """Whether an illustration of ``segment_id`` is scheduled and not done."""
        fut = self._futures.get(segment_id)
        return fut is not None and not fut.done()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for scheduled illustrations, at most ``timeout`` seconds; whether every one finished."""
        pending = [f for f in self._futures.values() if not f.done()]
        if not pending:
            return True
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def image_file(self, segment_id: str) -> Path | None:
        """The absolute path of a segment's illustration, ``None`` until rendered."""
        seg = self.session.story.segment(segment_id)
        if seg.image_status != "done" or not seg.image_path:
            return None
        return self.session.story_dir / seg.image_path

    def close(self) -> None:
        """Drop queued illustrations (one already rendering finishes in its thread)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------- work
    def _set(self, seg: Segment, **fields: Any) -> None:
        self.session.update(seg, **fields)
        if self.on_image is not None:
            with contextlib.suppress(Exception):  # a broken listener must not break rendering
                self.on_image(seg)

    def _illustrate(self, segment_id: str) -> None:
        story = self.session.story
        seg = story.segment(segment_id)
        self._set(seg, image_status="rendering", image_error="")
        try:
            style = story.settings.style
            prompt = seg.illustration_prompt or self._prompter()(seg.text or seg.raw_text, style)
            self._set(seg, illustration_prompt=prompt)
            backend = self._backend()
            if backend is None:
                raise ConfigError("no image backend")
            spec = illustration_render_spec(
                with_appearance(prompt, story.world, seg.text),
                style=style,
                story_id=story.id,
                segment_id=seg.id,
                width=story.settings.image_width,
                height=story.settings.image_height,
            )
            references = reference_sheets(story, self.session.story_dir, backend, seg.text)
            if references:
                spec = spec.model_copy(update={"reference_images": references})
            result = backend.render(spec)
            ext = "png" if result.mime == "image/png" else result.mime.rsplit("/", 1)[-1]
            rel = f"images/{seg.id}.{ext}"
            atomic_write_bytes(self.session.story_dir / rel, result.image)
            self._set(seg, image_path=rel, image_status="done", image_error="")
        except Exception as exc:
            msg = str(exc) if isinstance(exc, (BackendError, StorybenchError)) else f"{type(exc).__name__}: {exc}"
            self._set(seg, image_status="failed", image_error=msg or type(exc).__name__)
