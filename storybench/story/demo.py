"""A scripted walk through a branching story, for trying a backend end to end.

Run it with the embedded model (needs ``storybench[llamacpp]``)::

    python -m storybench.story.demo "Старий маяк на краю світу" --choices 0 1 2 --language uk

or from Python: ``walk("...", choices=[0, 1, 2], language="uk")``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from storybench.llm.base import LLMBackend
from storybench.render.base import ImageBackend
from storybench.story.engine import DEFAULT_OUTPUT_ROOT, StoryEngine
from storybench.story.model import Story, StorySettings

__all__ = ["main", "walk"]


def _pick(choices: list[str], want: int | str) -> int:
    if isinstance(want, int):
        return want % len(choices)
    folded = want.casefold()
    for i, c in enumerate(choices):
        if folded in c.casefold():
            return i
    return 0


def walk(
    premise: str,
    choices: Sequence[int | str] = (0, 1, 2),
    *,
    language: str = "en",
    style: str = "noir",
    llm: LLMBackend | str = "llamacpp",
    image_backend: ImageBackend | str | None = "storyboard",
    output_root: str | os.PathLike[str] = DEFAULT_OUTPUT_ROOT,
    on_chunk: Callable[[str], None] | None = None,
    max_tokens: int = 300,
    seed: int | None = None,
    image_timeout: float = 300.0,
) -> tuple[Story, StoryEngine]:
    """Start a story and follow ``choices``, one segment per choice (``len(choices) + 1`` segments).

    Args:
        premise: the premise, any language.
        choices: for each step, a choice index (wrapped to the number of choices) or a
            piece of the choice's text (first match, else the first choice).
        language: BCP-47 tag of the story language.
        style: style id.
        llm, image_backend: backends or registered names.
        output_root: where the story folder goes.
        on_chunk: called with each streamed text chunk.
        max_tokens: token budget of each segment.
        seed: sampler seed (``None``: random).
        image_timeout: seconds to wait for the illustrations at the end.

    Returns:
        The story (saved as ``<output_root>/<id>/story.json``) and its engine (closed).

    Raises:
        BackendError: the LLM failed to produce a segment.
    """
    settings = StorySettings(premise=premise, language=language, style=style)
    engine = StoryEngine(
        settings, llm=llm, image_backend=image_backend, output_root=output_root, max_tokens=max_tokens, seed=seed
    )
    try:
        seg = engine.start(on_chunk)
        for want in choices:
            if on_chunk:
                on_chunk("\n\n")
            seg = engine.choose(_pick(seg.choices, want), on_chunk)
        engine.wait_images(image_timeout)
        engine.save()
    finally:
        engine.close()
    return engine.story, engine


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: ``python -m storybench.story.demo PREMISE [--choices ...]``."""
    ap = argparse.ArgumentParser(description="Walk a branching story with an LLM and an image backend.")
    ap.add_argument("premise")
    ap.add_argument("--choices", nargs="*", default=["0", "1", "2"], help="choice indexes or choice text pieces")
    ap.add_argument("--language", default="en")
    ap.add_argument("--style", default="noir")
    ap.add_argument("--llm", default="llamacpp")
    ap.add_argument("--image-backend", default="storyboard")
    ap.add_argument("--output-root", default=DEFAULT_OUTPUT_ROOT)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    picks: list[int | str] = [int(c) if c.lstrip("-").isdigit() else c for c in args.choices]

    def echo(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    story, engine = walk(
        args.premise,
        picks,
        language=args.language,
        style=args.style,
        llm=args.llm,
        image_backend=args.image_backend,
        output_root=args.output_root,
        on_chunk=echo,
        seed=args.seed,
    )
    print("\n")
    for seg in story.path():
        print(
            f"{seg.id}: choices={seg.choices} ({seg.choices_source}) image={seg.image_status} "
            f"{seg.image_error} prompt={seg.illustration_prompt!r}"
        )
    print(f"saved {engine.story_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
