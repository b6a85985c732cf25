"""Context building with a large world, and recall by meaning on a labelled set.

1. ``context_build_ms_1000_entries=``: :func:`storybench.world.build_context` for a
   segment with 50 ancestors (~100 words each, naming two entries, with rolling
   summaries), a world of 1,000 entries (two or three keys each, one in ten with
   secondary keys, one in twenty a ``/regex/`` key, one in seven naming another
   entry) scanning all 50 segments, recursion on; the median of ``--repeat``
   builds in milliseconds (target: at most 20 ms).
2. ``semantic_recall_at_5=``: for each query of ``tests/data/world/recall_set.json``
   (30 entries, 50 Ukrainian and English queries that paraphrase entries without
   their keys), the share of expected entries among the 5 ranked best by
   multilingual-e5-small (``storybench[memory]``; target: at least 0.8). Without the
   extra it prints ``nan``.

Usage: ``python bench/bench_context.py [--entries 1000] [--segments 50] [--repeat 30] [--smoke]``
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from pathlib import Path

from storybench.world import SegmentText, World, WorldEntry, WorldSettings, build_context
from storybench.world.memory import SemanticMemory, memory_available

RECALL_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "world" / "recall_set.json"
_WORD_TEXT = (
    "дракон млин річка гора ліс замок корчма мольфар козак ярмарок вовк місто зима весна вогонь туман "
    "dragon mill river mountain forest castle tavern witch knight market wolf city winter spring fire fog "
    "ship harbour tower garden library bridge storm lantern mirror crown sword shield letter key door "
    "і та але коли він вона вони було буде дуже ще вже and the but when he she they was will very still"
)
WORDS = _WORD_TEXT.split()
_SYLLABLE_TEXT = "ка ри зо лен тар вік мі ро ста гор bel dor fin mar wyn thal ost rik"
SYLLABLES = _SYLLABLE_TEXT.split()


def name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()


def make_world(n: int, rng: random.Random) -> tuple[World, list[str]]:
    """``n`` entries keyed by invented names (a lorebook's people, places, things): two or
    three keys each, one in ten with secondary keys, one in twenty a ``/regex/`` key; their
    text mentions other names now and then (recursion)."""
    names = [f"{name(rng)}{uid}" for uid in range(n)]
    entries = []
    for uid in range(n):
        keys = [names[uid], f"{name(rng)}"]
        if uid % 3 == 0:
            keys.append(f"{rng.choice(WORDS)} {name(rng)}")
        if uid % 20 == 0:
            keys.append(f"/{names[uid][:4]}(а|и|s)?/i")
        secondary = [rng.choice(WORDS), rng.choice(WORDS)] if uid % 10 == 0 else []
        words = [rng.choice(WORDS) for _ in range(60)]
        if uid % 7 == 0:
            words[rng.randrange(60)] = rng.choice(names)
        entries.append(
            WorldEntry(uid=uid, keys=keys, secondary_keys=secondary, content=" ".join(words), order=uid % 200)
        )
    return World(entries=entries, settings=WorldSettings(scan_depth=50, token_budget=1500)), names


def make_path(n: int, rng: random.Random, names: list[str]) -> list[SegmentText]:
    """``n`` segments of ~100 words, each naming two of the world's entries."""
    path = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(100)]
        for _ in range(2):
            words[rng.randrange(100)] = rng.choice(names)
        text = " ".join(words)
        path.append(SegmentText(f"s{i:03d}", text, summary=f"summary up to {i}: " + text[:300], choice="go on"))
    return path


def bench_build(entries: int, segments: int, repeat: int) -> tuple[float, float, int, int]:
    rng = random.Random(19)
    world, names = make_world(entries, rng)
    path = make_path(segments, rng, names)
    times, cpu = [], []
    fired = 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        ctx = build_context("A premise.", path, world, recent=4, context_window=8192, reserve=1024)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        fired = len(ctx.report.fired) + len(ctx.report.dropped_entries)
    return statistics.median(times), statistics.median(cpu), fired, ctx.report.tokens


def recall_at_5(limit: int | None) -> tuple[float, int]:
    if not memory_available():
        return math.nan, 0
    data = json.loads(RECALL_SET.read_text(encoding="utf-8"))
    world = [WorldEntry(**e) for e in data["entries"]]
    queries = data["queries"][:limit] if limit else data["queries"]
    memory = SemanticMemory()
    found = total = 0
    for query in queries:
        top = {e.uid for e, _ in memory.rank(query["text"], world)[:5]}
        found += len(top & set(query["expected"]))
        total += len(query["expected"])
    return found / total, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.entries, args.segments, args.repeat = 100, 10, 3
    median_ms, cpu_ms, fired, tokens = bench_build(args.entries, args.segments, args.repeat)
    print(f"world: {args.entries} entries; history: {args.segments} segments; {fired} triggered; {tokens} tokens")
    print(f"median CPU time of one build: {cpu_ms:.2f} ms (wall time below; the machine may be shared)")
    recall, queries = recall_at_5(8 if args.smoke else None)
    print(f"semantic recall: {queries} queries" if queries else "semantic recall: storybench[memory] not installed")
    print(f"context_build_ms_1000_entries={median_ms:.2f}")
    print(f"semantic_recall_at_5={recall:.2f}")


if __name__ == "__main__":
    main()
