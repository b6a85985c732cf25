"""Writing the continuations of the offered choices while the writer reads.

After a segment is shown, :class:`Prefetcher` asks the engine for the continuation
of each of its choices, one after the other, in a background thread: at most one LLM
request at a time (the story's LLM gate), at the lowest priority: it waits until the
current segment's illustration is done (its prompt needs the LLM), enters the gate as
background work, and gives the LLM up at the next chunk when the reader's own request
waits for it or :meth:`Prefetcher.stop` is called (the explorer does both the moment
the writer acts). Prefetched segments are added to the story as
*unvisited* (``Segment.visited`` false, not current); choosing one makes it current at
once (:meth:`StoryEngine.choose`). Unchosen ones stay as unvisited branches.

Illustrations of prefetched segments follow the engine's ``prefetch_images``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from storybench.exceptions import Cancelled
from storybench.story.engine import StoryEngine
from storybench.story.model import Segment

__all__ = ["Prefetcher"]

log = logging.getLogger(__name__)


class Prefetcher:
    """Writes ahead the continuations of one segment's choices (see the module doc).

    Args:
        engine: the story's engine.
        on_segment: called (from the prefetch thread) with each prefetched segment.
        wait_for_image: wait for the segment's own illustration before starting.
    """

    def __init__(
        self,
        engine: StoryEngine,
        on_segment: Callable[[Segment], None] | None = None,
        *,
        wait_for_image: bool = True,
    ) -> None:
        self.engine = engine
        self.on_segment = on_segment
        self.wait_for_image = wait_for_image
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.written: list[str] = []

    @property
    def running(self) -> bool:
        """Whether a prefetch thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, segment_id: str) -> None:
        """Stop any prefetch in progress and start writing ahead the choices of ``segment_id``
        (those without any continuation yet)."""
        self.stop()
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(segment_id, self._cancel), daemon=True, name=f"prefetch-{segment_id}"
        )
        self._thread.start()

    def stop(self, timeout: float | None = 0.0) -> bool:
        """Cancel the prefetch: the request in progress ends at its next chunk (its text is
        dropped), and queued illustrations of unvisited segments are dropped.

        Args:
            timeout: seconds to wait for the thread to end (``0``: do not wait; ``None``: wait).

        Returns:
            Whether no prefetch thread is running any more.
        """
        self._cancel.set()
        for seg in list(self.engine.story.segments.values()):
            if not seg.visited:
                self.engine.cancel_image(seg.id)
        t = self._thread
        if t is not None and timeout != 0.0:
            t.join(timeout)
        return not self.running

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the prefetch thread ends; whether it did within ``timeout`` seconds."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return not self.running

    def _image_done(self, segment_id: str, cancel: threading.Event) -> bool:
        """Wait for the segment's own illustration; ``False`` when cancelled meanwhile."""
        fut = self.engine.image_future(segment_id)
        while fut is not None and not fut.done():
            if cancel.wait(0.05):
                return False
        return True

    def _run(self, segment_id: str, cancel: threading.Event) -> None:
        engine = self.engine
        try:
            if self.wait_for_image and not self._image_done(segment_id, cancel):
                return
            parent = engine.story.segment(segment_id)
            for index in range(len(parent.choices)):
                if cancel.is_set():
                    return
                if engine.story.children_for(segment_id, index):
                    continue
                seg = engine.write_segment(
                    segment_id, index, make_current=False, visited=False, cancel_event=cancel, priority="background"
                )
                self.written.append(seg.id)
                if self.on_segment is not None:
                    self.on_segment(seg)
        except Cancelled:
            return
        except Exception:  # a failed prefetch only means the click will be slower
            log.warning("prefetch after %s failed", segment_id, exc_info=True)
