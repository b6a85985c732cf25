"""A seeded mutator of comic plans, for the fuzz test and bench/bench_fuzz.py.

:func:`mutated_case` turns a case number into a hostile plan: a valid plan (seed
002's format or the full one) with a few mutations — values replaced by hostile ones
(huge integers, control characters, long strings, deep nesting, reserved ids, odd
but valid text such as emoji, RTL, combining marks), keys deleted or renamed,
containers duplicated — and, for files, byte-level damage (truncation, bad UTF-8,
byte order marks, deep brackets, 5,000-digit numbers).

:func:`run_case` feeds a case to ``parse_plan`` and ``load_plan`` and classifies
each outcome as ``valid``, ``clean`` (a ``PlanValidationError`` whose issues all
name a JSON path or file position) or ``other`` (anything else: a crash).
"""

from __future__ import annotations

import copy
import json
import random
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storybench.exceptions import PlanValidationError
from storybench.plan import ComicPlan, load_plan, parse_plan

DATA = Path(__file__).parent / "data"
ODD_TEXT = [
    "😀🎉👩‍👩‍👧‍👦 🇺🇦",  # emoji, ZWJ sequences, flags
    "مرحبا بالعالم، كيف حالك؟",  # Arabic (RTL)
    "שלום עולם",  # Hebrew (RTL)
    "Z̷̢̛a̶̡͝l̵̨̛g̸̢̛o̴̧͝ t̶̨̛e̵̡͝x̷̢̛t̶̨̛",  # stacked combining marks
    "e\u0301 n\u0303 a\u0308",  # decomposed accents
    "ŁÓDŹ ß ﬁ ǅ",  # ligatures, titlecase digraphs
    "漢字かなカナ한국어",  # CJK
    "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl",  # many lines
    "W" * 399,  # one unbreakable word
    " ".join(["word"] * 79),  # many short words
    "\u202eRTL override\u202c and zero\u200bwidth",
    "line\r\nbreaks\u2028and\u2029separators",  # normalised to \n in multi-line fields
]
HOSTILE = [
    10**5000,
    -(10**50),
    2**31,
    -1,
    0,
    1.5,
    float("inf"),
    True,
    None,
    "",
    "   ",
    "x" * 5000,
    "y" * 1_000_000,
    "\x00",
    "a\x1cb",
    "a\x85b",
    "a\u2029b",
    "a\rb",
    "\ud800",
    "con",
    "NUL",
    "COM1",
    "lpt9.txt",
    "name.",
    "name ",
    "../etc/passwd",
    "a..b",
    "A-Valid_id.1",
    [],
    {},
    [[[[[[[[[[]]]]]]]]]],
    {"a": {"b": {"c": {}}}},
    "<script>&amp;</script>",
    "manga",
    "grid-2x2",
    "single",
    *ODD_TEXT,
]


def base_plans() -> list[dict[str, Any]]:
    """The valid plans mutations start from: seed 002's format and a full plan."""
    kitsumy = json.loads((DATA / "kitsumy_plan.json").read_text(encoding="utf-8"))
    root = Path(__file__).parent.parent / "plans"
    full = json.loads((root / "noir-rain-alley.json").read_text(encoding="utf-8"))
    return [kitsumy, full]


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _containers(node: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    out = []
    stack = [(node, path)]
    while stack:
        item, p = stack.pop()
        if isinstance(item, (dict, list)) and len(p) < 40:
            out.append((p, item))
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for k, v in children:
                stack.append((v, (*p, k)))
    return out


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except RecursionError:  # a deep nest from an earlier mutation: a fresh one instead (never a cycle)
        return _deep(200)


def _mutate(data: dict[str, Any], rng: random.Random) -> None:
    containers = _containers(data)
    _, target = rng.choice(containers)
    if isinstance(target, dict):
        if not target:
            target[rng.choice(["id", "x", "title"])] = rng.choice(HOSTILE)
            return
        key = rng.choice(list(target))
    else:
        if not target:
            target.append(rng.choice(HOSTILE))
            return
        key = rng.randrange(len(target))
    op = rng.random()
    if op < 0.55:
        target[key] = rng.choice(HOSTILE)
    elif op < 0.65:
        target[key] = rng.choice(ODD_TEXT) if isinstance(target[key], str) else target[key]
    elif op < 0.72 and isinstance(target, dict):
        del target[key]
    elif op < 0.77 and isinstance(target, dict):
        target[str(key) + rng.choice(["_", "X", ""]).upper()] = target.pop(key)
    elif op < 0.85 and isinstance(target, list):
        target.append(_copy(target[key]))
    elif op < 0.9:
        target[key] = _deep(rng.choice([40, 200, 2000]))
    elif op < 0.95:
        shared = "s" * rng.choice([1000, 1_000_000])  # one big string referenced many times
        target[key] = [shared] * rng.choice([10, 1000])
    else:
        target[key] = _copy(data.get("chapters"))


def _approx_size(data: Any, stop: int = 6_000_000) -> int:
    """Sum of string lengths plus 8 per node, stopping early past ``stop``."""
    total, stack = 0, [data]
    while stack and total <= stop:
        item = stack.pop()
        total += 8 + (len(item) if isinstance(item, str) else 0)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


def _to_bytes(data: Any, rng: random.Random) -> bytes:
    """The plan as file bytes; an oversized plan becomes a file just over the size limit."""
    if _approx_size(data) > 5_000_000:
        return b'{"title": "' + b"x" * 5_000_000 + b'"}'
    try:
        text = json.dumps(data, ensure_ascii=rng.random() < 0.5)
    except (ValueError, RecursionError):
        text = "{}"
    return text.encode("utf-8", "surrogatepass")


def _damage(data: bytes, rng: random.Random) -> bytes:
    op = rng.random()
    if op < 0.2:
        return data[: rng.randrange(len(data) + 1)]
    if op < 0.35:
        at = rng.randrange(len(data) + 1)
        return data[:at] + bytes([rng.choice([0xFF, 0xC3, 0x80, 0xED])]) + data[at:]
    if op < 0.45:
        return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]) + data
    if op < 0.6:
        return b"[" * rng.choice([100, 1000, 100_000]) + b"]" * 3
    if op < 0.7:
        return data.replace(b'"position": 1', b'"position": ' + b"9" * 5000, 1)
    if op < 0.8:
        return data.replace(b"{", b'{"id": NaN, ', 1)
    if op < 0.9:
        at = rng.randrange(len(data) + 1)
        return data[:at] + bytes(rng.randrange(256) for _ in range(8)) + data[at:]
    return data.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")


def mutated_case(n: int, *, bases: list[dict[str, Any]] | None = None) -> tuple[Any, bytes]:
    """Case ``n``: ``(plan object, file bytes)`` (the bytes sometimes damaged); the same ``n`` gives the same case."""
    rng = random.Random(n)
    bases = bases or base_plans()
    data = copy.deepcopy(rng.choice(bases))
    for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
        _mutate(data, rng)
    raw = _to_bytes(data, rng)
    if rng.random() < 0.3:
        raw = _damage(raw, rng)
    return data, raw


@dataclass
class FuzzReport:
    """Outcome counts of a fuzz run."""

    outcomes: Counter = field(default_factory=Counter)
    others: list[str] = field(default_factory=list)
    slowest: float = 0.0
    peak_bytes: int = 0
    valid_plans: list[ComicPlan] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        o = self.outcomes
        return (
            f"{self.cases} cases, valid / clean error / other = {o['valid']} / {o['clean']} / {o['other']}"
            f" (slowest {self.slowest:.2f} s, peak {self.peak_bytes / 1e6:.0f} MB)"
        )


def _classify(fn, report: FuzzReport, label: str, *, trace: bool) -> None:
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        plan = fn()
    except PlanValidationError as exc:
        if exc.issues and all(issue.path for issue in exc.issues) and len(str(exc)) < 60_000:
            report.outcomes["clean"] += 1
        else:
            report.outcomes["other"] += 1
            report.others.append(f"{label}: issue without a path or oversized message: {str(exc)[:200]}")
    except Exception as exc:  # anything else is a crash the fuzz test reports
        report.outcomes["other"] += 1
        report.others.append(f"{label}: {type(exc).__name__}: {str(exc)[:200]}")
    else:
        report.outcomes["valid"] += 1
        if len(report.valid_plans) < 400:
            report.valid_plans.append(plan)
    report.slowest = max(report.slowest, time.perf_counter() - t0)
    if trace:
        report.peak_bytes = max(report.peak_bytes, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def run_cases(start: int, count: int, tmp_dir: Path, *, memory_every: int = 5) -> FuzzReport:
    """Run cases ``start .. start+count-1`` through ``parse_plan`` and ``load_plan``.

    Every case is timed; every ``memory_every``-th case (and every case with a large
    input) also has its peak memory traced (tracing slows Python down a lot).
    """
    report = FuzzReport()
    bases = base_plans()
    for n in range(start, start + count):
        data, raw = mutated_case(n, bases=bases)
        trace = n % memory_every == 0 or len(raw) > 100_000
        _classify(lambda d=data: parse_plan(d), report, f"case {n} parse_plan", trace=trace)
        path = tmp_dir / f"case-{n % 16}.json"
        path.write_bytes(raw)
        _classify(lambda p=path: load_plan(p), report, f"case {n} load_plan", trace=trace)
    return report
