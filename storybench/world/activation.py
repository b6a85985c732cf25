"""Which world entries fire for a stretch of story, and why (the world's "scan").

:func:`activate` follows SillyTavern's World Info scan (``checkWorldInfo`` in
``public/scripts/world-info.js``), in these steps:

1. **Keys.** Every enabled entry is checked against the last ``scan_depth``
   segments (the entry's own ``scan_depth`` or the world's). Constant entries fire
   without keys. A primary key must occur; when the entry is ``selective`` and has
   secondary keys, :class:`~storybench.world.model.SelectiveLogic` decides.
2. **Recursion.** The text of entries that fired (unless ``prevent_recursion``) is
   scanned in turn, up to ``settings.recursion_depth`` passes, for entries not yet
   fired (unless ``exclude_recursion``); the reason names the entry that triggered it.
3. **Probability.** A triggered entry with ``use_probability`` and a probability
   under 100 fires only if its roll is under it; rolls come from
   ``random.Random(f"{seed}:{uid}")``, so the same seed gives the same outcome.
4. **Meaning** (optional). With a semantic index, entries not fired by keys whose
   text is close to the recent story (cosine ≥ ``semantic_threshold``, best
   ``semantic_top_k``) fire with their score as the reason.
5. **Budget.** Entries claim the token budget by priority: constant entries, then
   key and recursion hits, then semantic hits; within each, higher ``order`` first,
   then lower ``uid``. As in SillyTavern, the first entry that does not fit ends
   the fill: it and every entry after it are dropped, and the result lists them.

The fired entries come back in insertion order: ``order`` ascending (higher order
is placed later, nearer the end of the story), then ``uid``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import ahocorasick

from storybench.world.keys import Haystack, KeyMatcher, RegexTimeout, compile_key
from storybench.world.model import SelectiveLogic, World, WorldEntry, WorldSettings

__all__ = ["Activation", "Firing", "SemanticIndex", "Skip", "activate", "estimate_tokens"]

Kind = Literal["constant", "key", "recursion", "semantic"]
_RANK: dict[str, int] = {"constant": 0, "key": 1, "recursion": 1, "semantic": 2}


def estimate_tokens(text: str) -> int:
    """A token count estimate for servers without a tokenizer: ``ceil(chars / 4)``."""
    return (len(text) + 3) // 4


class SemanticIndex(Protocol):
    """Ranks entries by meaning (see :class:`storybench.world.memory.SemanticMemory`)."""

    def rank(self, query: str, entries: Sequence[WorldEntry]) -> list[tuple[WorldEntry, float]]:
        """``entries`` with their cosine similarity to ``query``, best first."""
        ...


@dataclass(frozen=True)
class Firing:
    """An entry that fired.

    Attributes:
        entry: the entry.
        kind: ``constant``, ``key``, ``recursion`` or ``semantic``.
        reason: one line for the writer, e.g. ``key "dragon"`` or ``meaning 0.87``.
        key: the primary key that matched (``None`` for constant and semantic).
        score: the cosine similarity (semantic only).
        tokens: tokens of the entry's content.
    """

    entry: WorldEntry
    kind: Kind
    reason: str
    key: str | None = None
    score: float | None = None
    tokens: int = 0


@dataclass(frozen=True)
class Skip:
    """An entry that was triggered but not used, with why (budget, probability, regex time)."""

    entry: WorldEntry
    reason: str


@dataclass
class Activation:
    """The outcome of one scan.

    Attributes:
        fired: entries placed, in insertion order (``order`` ascending, then ``uid``).
        dropped: triggered entries left out because the token budget was full.
        skipped: triggered entries that lost their probability roll.
        warnings: one sentence per regex key stopped by its time limit.
        tokens: tokens of the fired entries' contents.
        budget: the token budget of the world block.
    """

    fired: list[Firing] = field(default_factory=list)
    dropped: list[Skip] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tokens: int = 0
    budget: int = 0


@functools.lru_cache(maxsize=32768)
def _compiled(
    keys: tuple[str, ...], secondary: tuple[str, ...], case: bool, whole: bool, timeout: float
) -> tuple[list[KeyMatcher], list[KeyMatcher]]:
    def compile_all(texts: tuple[str, ...]) -> list[KeyMatcher]:
        return [compile_key(k, case_sensitive=case, whole_words=whole, timeout=timeout) for k in texts if k.strip()]

    return compile_all(keys), compile_all(secondary)


def _plain(key: KeyMatcher) -> bool:
    """A text key (not a regex): whether it occurs is a substring question, answered for all
    such keys at once by the automaton (a whole-word key is then checked with its pattern)."""
    return key.pattern is None and bool(key.needle)


@functools.lru_cache(maxsize=16)
def _automaton(needles: tuple[str, ...]) -> ahocorasick.Automaton:
    """An Aho-Corasick automaton over ``needles`` (built once per world's set of plain keys)."""
    automaton = ahocorasick.Automaton()
    for needle in needles:
        automaton.add_word(needle, needle)
    automaton.make_automaton()
    return automaton


class _Scan:
    """State of one scan: compiled keys, scan texts per depth, what fired.

    Text keys (all but ``/regex/`` keys) are found for all entries at once: one Aho-Corasick pass
    over a text gives the set of such keys it holds (``pyahocorasick``), so each entry's check
    is a set lookup instead of a substring search per key.
    """

    def __init__(self, world: World, texts: Sequence[str], seed: int) -> None:
        self.settings: WorldSettings = world.settings
        self.texts = list(texts)
        self.seed = seed
        self._windows: dict[int, Haystack] = {}
        self.triggered: dict[int, Firing] = {}
        self.skipped: list[Skip] = []
        self.warnings: list[str] = []
        self._warned: set[tuple[int, str]] = set()
        self._matchers: dict[int, tuple[list[KeyMatcher], list[KeyMatcher]]] = {}
        self._automata: dict[bool, ahocorasick.Automaton | None] = {}
        self._present: dict[tuple[Haystack, bool], set[str]] = {}  # (held: no id reuse)

    def prepare(self, entries: Sequence[WorldEntry]) -> None:
        """Compile every entry's keys and build the automata of their primary text keys."""
        needles: dict[bool, set[str]] = {True: set(), False: set()}
        for entry in entries:
            primary, _secondary = self.matchers(entry)
            for key in primary:
                if _plain(key):
                    needles[key.case_sensitive].add(key.needle)
        self._automata = {case: _automaton(tuple(sorted(found))) if found else None for case, found in needles.items()}

    def present(self, haystack: Haystack, case_sensitive: bool) -> set[str] | None:
        """The text keys ``haystack`` holds as substrings (``None`` when no automaton covers
        them); a whole-word key among them is then checked with its bounded pattern."""
        automaton = self._automata.get(case_sensitive)
        if automaton is None:
            return None
        cache_key = (haystack, case_sensitive)
        found = self._present.get(cache_key)
        if found is None:
            text = haystack.text if case_sensitive else haystack.folded
            found = self._present[cache_key] = {needle for _end, needle in automaton.iter(text)}
        return found

    def window(self, entry: WorldEntry) -> Haystack:
        depth = self.settings.scan_depth if entry.scan_depth is None else entry.scan_depth
        cached = self._windows.get(depth)
        if cached is None:
            cached = self._windows[depth] = Haystack("\n".join(self.texts[-depth:]) if depth else "")
        return cached

    def matchers(self, entry: WorldEntry) -> tuple[list[KeyMatcher], list[KeyMatcher]]:
        """The entry's primary and secondary keys, compiled (kept between scans)."""
        found = self._matchers.get(entry.uid)
        if found is None:
            settings = self.settings
            case = settings.case_sensitive if entry.case_sensitive is None else entry.case_sensitive
            whole = settings.match_whole_words if entry.match_whole_words is None else entry.match_whole_words
            found = _compiled(tuple(entry.keys), tuple(entry.secondary_keys), case, whole, settings.regex_timeout)
            self._matchers[entry.uid] = found
        return found

    def occurs(self, entry: WorldEntry, key: KeyMatcher, haystack: Haystack) -> bool:
        try:
            return key.matches(haystack)
        except RegexTimeout as exc:
            if (entry.uid, key.key) not in self._warned:
                self._warned.add((entry.uid, key.key))
                self.warnings.append(f"entry {entry.title!r} (uid {entry.uid}): {exc}")
            return False

    def first_key(self, entry: WorldEntry, keys: list[KeyMatcher], haystack: Haystack) -> KeyMatcher | None:
        """The first of ``keys`` in ``haystack`` (text keys looked up in the automaton's set of the
        keys the text holds: this is the hot loop of a scan, a few thousand keys for 1,000 entries)."""
        for key in keys:
            present = self.present(haystack, key.case_sensitive) if _plain(key) else None
            if present is None:
                if self.occurs(entry, key, haystack):
                    return key
            elif key.needle in present and (key.word is None or self.occurs(entry, key, haystack)):
                return key
        return None

    def key_hit(self, entry: WorldEntry, haystack: Haystack) -> KeyMatcher | None:
        """The first primary key of ``entry`` in ``haystack`` that passes the secondary logic."""
        primary_keys, secondary = self.matchers(entry)
        primary = self.first_key(entry, primary_keys, haystack)
        if primary is None:
            return None
        if not entry.selective or not secondary:
            return primary
        hits = [self.occurs(entry, k, haystack) for k in secondary]
        passed = {
            SelectiveLogic.AND_ANY: any(hits),
            SelectiveLogic.AND_ALL: all(hits),
            SelectiveLogic.NOT_ANY: not any(hits),
            SelectiveLogic.NOT_ALL: not all(hits),
        }[entry.selective_logic]
        return primary if passed else None

    def wins_roll(self, entry: WorldEntry) -> bool:
        chance = 100 if entry.probability is None else entry.probability
        if not entry.use_probability or chance >= 100:
            return True
        roll = random.Random(f"{self.seed}:{entry.uid}").random() * 100
        if roll < chance:
            return True
        self.skipped.append(Skip(entry, f"probability {chance:g} %: rolled {roll:.0f}"))
        return False

    def trigger(self, firing: Firing) -> bool:
        if firing.entry.uid in self.triggered or not self.wins_roll(firing.entry):
            return False
        self.triggered[firing.entry.uid] = firing
        return True


def _first_pass(scan: _Scan, candidates: list[WorldEntry]) -> list[WorldEntry]:
    new: list[WorldEntry] = []
    for entry in candidates:
        if entry.constant:
            firing = Firing(entry, "constant", "constant")
        else:
            window = scan.window(entry)
            hit = scan.key_hit(entry, window) if window.text else None
            if hit is None:
                continue
            firing = Firing(entry, "key", f"key {hit.key!r}", key=hit.key)
        if scan.trigger(firing):
            new.append(entry)
    return new


def _recurse(scan: _Scan, candidates: list[WorldEntry], new: list[WorldEntry]) -> None:
    """Scan the text of the entries fired in the last pass (all at once; the trigger is
    named afterwards as the first of them holding the key)."""
    for _pass in range(scan.settings.recursion_depth):
        sources = [e for e in new if not e.prevent_recursion]
        if not sources:
            return
        joined = Haystack("\n".join(e.content for e in sources))
        each = [Haystack(e.content) for e in sources]
        new = []
        for entry in candidates:
            if entry.uid in scan.triggered or entry.exclude_recursion or entry.constant:
                continue
            hit = scan.key_hit(entry, joined)
            if hit is None:
                continue
            source = next((s for s, h in zip(sources, each, strict=True) if scan.occurs(entry, hit, h)), None)
            where = f"entry {source.title!r}" if source else "the fired entries"
            if scan.trigger(Firing(entry, "recursion", f"key {hit.key!r} in {where}", key=hit.key)):
                new.append(entry)


def _semantic(scan: _Scan, candidates: list[WorldEntry], index: SemanticIndex) -> None:
    settings = scan.settings
    if settings.semantic_top_k <= 0:
        return
    query = "\n".join(scan.texts[-max(settings.scan_depth, 1) :])
    rest = [e for e in candidates if e.uid not in scan.triggered and not e.constant and e.content.strip()]
    if not query.strip() or not rest:
        return
    taken = 0
    for entry, score in index.rank(query, rest):
        if taken >= settings.semantic_top_k or score < settings.semantic_threshold:
            break
        if scan.trigger(Firing(entry, "semantic", f"meaning {score:.2f}", score=score)):
            taken += 1


def _fill_budget(
    triggered: list[Firing], budget: int, count_tokens: Callable[[str], int]
) -> tuple[list[Firing], list[Skip], int]:
    ranked = sorted(triggered, key=lambda f: (_RANK[f.kind], -f.entry.order, f.entry.uid))
    kept: list[Firing] = []
    dropped: list[Skip] = []
    used = 0
    full = False
    for firing in ranked:
        tokens = count_tokens(firing.entry.content)
        if full or used + tokens > budget:
            full = True
            dropped.append(Skip(firing.entry, f"world budget full ({used} of {budget} tokens used; needs {tokens})"))
            continue
        used += tokens
        kept.append(Firing(firing.entry, firing.kind, firing.reason, firing.key, firing.score, tokens))
    kept.sort(key=lambda f: (f.entry.order, f.entry.uid))
    return kept, dropped, used


def activate(
    world: World,
    texts: Sequence[str],
    *,
    budget: int,
    count_tokens: Callable[[str], int] = estimate_tokens,
    seed: int = 0,
    semantic: SemanticIndex | None = None,
) -> Activation:
    """Scan ``texts`` (recent story segments, oldest first) for ``world``'s entries.

    Args:
        world: the entries and settings.
        texts: the recent segments' texts, oldest first (only the last
            ``scan_depth`` are scanned).
        budget: tokens the fired entries' contents may take together.
        count_tokens: the backend's token counter (default: chars / 4).
        seed: seeds the probability rolls (same seed, same outcome).
        semantic: ranks entries by meaning (optional, see module doc step 4).

    Returns:
        The :class:`Activation`: fired (insertion order, with reasons), dropped,
        skipped, warnings and token counts.
    """
    scan = _Scan(world, texts, seed)
    candidates = [e for e in world.entries if e.enabled]
    scan.prepare(candidates)
    new = _first_pass(scan, candidates)
    _recurse(scan, candidates, new)
    if semantic is not None:
        _semantic(scan, candidates, semantic)
    kept, dropped, used = _fill_budget(list(scan.triggered.values()), budget, count_tokens)
    return Activation(kept, dropped, scan.skipped, scan.warnings, used, budget)
