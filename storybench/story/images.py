"""The illustration half of :class:`~storybench.story.engine.StoryEngine`.

After a segment's text, its illustration is made in a background thread (one at a
time, in order) or inline (``inline_images``): the illustration prompt from the
segment's text (:class:`~storybench.story.illustration.IllustrationPrompter`, which
shares the engine's LLM lock), the render through the image backend, the file written
atomically to ``<story_dir>/images/<segment_id>.<ext>``. A failure only marks the
segment ``failed`` with its error; :meth:`IllustrationMixin.retry_image` tries again.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from storybench.exceptions import BackendError, ConfigError, StorybenchError
from storybench.files import atomic_write_bytes
from storybench.render.base import ImageBackend
from storybench.story.illustration import IllustrationPrompter, illustration_render_spec
from storybench.story.model import Segment, Story

__all__ = ["IllustrationMixin"]


class IllustrationMixin:
    """Scheduling, rendering and cancelling of segment illustrations.

    The engine provides the attributes below; this class only holds the methods.
    """

    story: Story
    story_dir: Path
    inline_images: bool
    image_backend_name: str | None
    on_image: Any
    _state_lock: threading.RLock
    _executor: ThreadPoolExecutor | None
    _futures: dict[str, Future[None]]

    @property
    def prompter(self) -> IllustrationPrompter:  # provided by the engine
        raise NotImplementedError

    @property
    def image_backend(self) -> ImageBackend | None:  # provided by the engine
        raise NotImplementedError

    def _autosave(self) -> None:  # provided by the engine
        raise NotImplementedError

    def cancel_image(self, segment_id: str) -> bool:
        """Drop a scheduled illustration that has not started; the segment is marked
        ``failed`` with "stopped" (Retry image renders it).

        Returns:
            Whether it was dropped.
        """
        fut = self._futures.get(segment_id)
        if fut is None or not fut.cancel():
            return False
        seg = self.story.segment(segment_id)
        self._set_image(seg, image_status="failed", image_error="stopped")
        return True

    def schedule_image(self, segment_id: str) -> Future[None] | None:
        """Illustrate ``segment_id`` in the background (inline with ``inline_images``).

        Returns:
            The future of the work, or ``None`` when images are off or it ran inline.
        """
        if not self.image_backend_name:
            return None
        with self._state_lock:
            self.story.segment(segment_id).image_status = "pending"
            self.story.segment(segment_id).image_error = ""
        if self.inline_images:
            self._illustrate(segment_id)
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"story-{self.story.id}")
        fut = self._executor.submit(self._illustrate, segment_id)
        self._futures[segment_id] = fut
        return fut

    def image_future(self, segment_id: str) -> Future[None] | None:
        """The future of a segment's scheduled illustration, ``None`` when none was scheduled."""
        return self._futures.get(segment_id)

    def retry_image(self, segment_id: str) -> Future[None] | None:
        """Render a segment's illustration again (after a failure, or to refresh it)."""
        return self.schedule_image(segment_id)

    def _set_image(self, seg: Segment, **fields: Any) -> None:
        with self._state_lock:
            for key, value in fields.items():
                setattr(seg, key, value)
            self._autosave()
        if self.on_image is not None:
            with contextlib.suppress(Exception):  # a broken listener must not break rendering
                self.on_image(seg)

    def _illustrate(self, segment_id: str) -> None:
        seg = self.story.segment(segment_id)
        self._set_image(seg, image_status="rendering", image_error="")
        try:
            style = self.story.settings.style
            prompt = seg.illustration_prompt or self.prompter(seg.text or seg.raw_text, style)
            self._set_image(seg, illustration_prompt=prompt)
            backend = self.image_backend
            if backend is None:
                raise ConfigError("no image backend")
            spec = illustration_render_spec(
                prompt,
                style=style,
                story_id=self.story.id,
                segment_id=seg.id,
                width=self.story.settings.image_width,
                height=self.story.settings.image_height,
            )
            result = backend.render(spec)
            ext = "png" if result.mime == "image/png" else result.mime.rsplit("/", 1)[-1]
            rel = f"images/{seg.id}.{ext}"
            atomic_write_bytes(self.story_dir / rel, result.image)
            self._set_image(seg, image_path=rel, image_status="done", image_error="")
        except Exception as exc:
            msg = str(exc) if isinstance(exc, (BackendError, StorybenchError)) else f"{type(exc).__name__}: {exc}"
            self._set_image(seg, image_status="failed", image_error=msg or type(exc).__name__)

    def wait_images(self, timeout: float | None = None) -> bool:
        """Wait for scheduled illustrations, at most ``timeout`` seconds.

        Returns:
            Whether every one finished.
        """
        pending = [f for f in self._futures.values() if not f.done()]
        if not pending:
            return True
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def image_file(self, segment_id: str) -> Path | None:
        """The absolute path of a segment's illustration, ``None`` until rendered."""
        seg = self.story.segment(segment_id)
        if seg.image_status != "done" or not seg.image_path:
            return None
        return self.story_dir / seg.image_path
