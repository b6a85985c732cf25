"""Driving a segment generator of earlier releases (``generate_stream``, ``continue_stream``)."""

from __future__ import annotations

from collections.abc import Callable, Generator

from storybench.story.model import Segment

__all__ = ["drive_stream"]


def drive_stream(gen: Generator[str, None, Segment], on_chunk: Callable[[str], None] | None) -> Segment:
    """Run ``gen`` to its end, handing each chunk to ``on_chunk``; returns its segment.

    A ``KeyboardInterrupt`` from ``on_chunk`` is thrown into the generator (the segment is
    kept as unfinished and the interrupt re-raised).
    """
    try:
        while True:
            try:
                chunk = next(gen)
            except StopIteration as done:
                return done.value
            if on_chunk is not None:
                try:
                    on_chunk(chunk)
                except KeyboardInterrupt as exc:
                    gen.throw(exc)
    finally:
        gen.close()
