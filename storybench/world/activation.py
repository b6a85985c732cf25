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

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from storybench.world.keys import KeyMatcher, RegexTimeout, compile_key
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


class _Scan:
    """State of one scan: compiled keys, scan texts per depth, what fired."""

    def __init__(self, world: World, texts: Sequence[str], seed: int) -> None:
        self.settings: WorldSettings = world.settings
        self.texts = list(texts)
        self.seed = seed
        self._windows: dict[int, tuple[str, str]] = {}
        self._keys: dict[tuple[int, str, bool], KeyMatcher] = {}
        self.triggered: dict[int, Firing] = {}
        self.skipped: list[Skip] = []
        self.warnings: list[str] = []
        self._warned: set[tuple[int, str]] = set()

    def window(self, entry: WorldEntry) -> tuple[str, str]:
        depth = self.settings.scan_depth if entry.scan_depth is None else entry.scan_depth
        cached = self._windows.get(depth)
        if cached is None:
            text = "\n".join(self.texts[-depth:]) if depth else ""
            cached = self._windows[depth] = (text, text.casefold())
        return cached

    def matcher(self, entry: WorldEntry, key: str) -> KeyMatcher:
        case = self.settings.case_sensitive if entry.case_sensitive is None else entry.case_sensitive
        whole = self.settings.match_whole_words if entry.match_whole_words is None else entry.match_whole_words
        cache_key = (entry.uid, key, case)
        found = self._keys.get(cache_key)
        if found is None:
            found = compile_key(key, case_sensitive=case, whole_words=whole, timeout=self.settings.regex_timeout)
            self._keys[cache_key] = found
        return found

    def occurs(self, entry: WorldEntry, key: str, text: str, folded: str) -> bool:
        try:
            return self.matcher(entry, key).matches(text, folded)
        except RegexTimeout as exc:
            if (entry.uid, key) not in self._warned:
                self._warned.add((entry.uid, key))
                self.warnings.append(f"entry {entry.title!r} (uid {entry.uid}): {exc}")
            return False

    def key_hit(self, entry: WorldEntry, text: str, folded: str) -> str | None:
        """The first primary key of ``entry`` in ``text`` that passes the secondary logic."""
        primary = next((k for k in entry.keys if self.occurs(entry, k, text, folded)), None)
        if primary is None:
            return None
        secondary = [k for k in entry.secondary_keys if k.strip()]
        if not entry.selective or not secondary:
            return primary
        hits = [self.occurs(entry, k, text, folded) for k in secondary]
        logic = entry.selective_logic
        passed = {
            SelectiveLogic.AND_ANY: any(hits),
            SelectiveLogic.AND_ALL: all(hits),
            SelectiveLogic.NOT_ANY: not any(hits),
            SelectiveLogic.NOT_ALL: not all(hits),
        }[logic]
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
            text, folded = scan.window(entry)
            key = scan.key_hit(entry, text, folded) if text else None
            if key is None:
                continue
            firing = Firing(entry, "key", f"key {key!r}", key=key)
        if scan.trigger(firing):
            new.append(entry)
    return new


def _recurse(scan: _Scan, candidates: list[WorldEntry], new: list[WorldEntry]) -> None:
    for _pass in range(scan.settings.recursion_depth):
        sources = [(e, e.content, e.content.casefold()) for e in new if not e.prevent_recursion]
        new = []
        for entry in candidates:
            if entry.uid in scan.triggered or entry.exclude_recursion or entry.constant:
                continue
            for source, text, folded in sources:
                key = scan.key_hit(entry, text, folded)
                if key is not None:
                    reason = f"key {key!r} in entry {source.title!r}"
                    if scan.trigger(Firing(entry, "recursion", reason, key=key)):
                        new.append(entry)
                    break
        if not new:
            return


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
    new = _first_pass(scan, candidates)
    _recurse(scan, candidates, new)
    if semantic is not None:
        _semantic(scan, candidates, semantic)
    kept, dropped, used = _fill_budget(list(scan.triggered.values()), budget, count_tokens)
    return Activation(kept, dropped, scan.skipped, scan.warnings, used, budget)
