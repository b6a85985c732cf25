"""The story engine's memory: contexts over a segment's own ancestors, rolling summaries,
world info and the author's note in the messages actually sent to the LLM (issue 19)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from story_fakes import FakeImageBackend, ScriptedLLM

from storybench.llm.base import GenerationOptions, Message
from storybench.story import StoryEngine, StorySettings, load_story
from storybench.story.explorer.world_section import context_html
from storybench.story.memory import DEFAULT_CONTEXT_WINDOW
from storybench.story.model import Story
from storybench.world.memory import SemanticMemory
from storybench.world.model import Character, World, WorldEntry, WorldSettings

FACT = "The secret key lies under the red stone."
CHOICES = "\n\n1. Go left\n2. Go right\n3. Wait here"


def scene(name: str) -> str:
    return f"Scene {name}. The wind moves the grass and nothing else happens.{CHOICES}"


class MemoryLLM(ScriptedLLM):
    """Scripted segments, and summaries that keep the previous summary plus the new part's first sentence."""

    def _answer(self, messages: list[Message], options: GenerationOptions) -> str:
        if "running summary" in messages[0].content:
            with self._lock:
                self.calls.append(("summary", messages, options))
            user = messages[1].content
            previous = user.split("Previous summary:\n", 1)[1].split("\n\nNew part:\n", 1)[0]
            new = user.split("\n\nNew part:\n", 1)[1]
            first = re.split(r"(?<=[.!?])\s", new, maxsplit=1)[0]
            kept = "" if previous.startswith("(none") else previous + " "
            return json.dumps({"summary": (kept + first)[-590:]})
        return super()._answer(messages, options)


def segment_users(llm: ScriptedLLM) -> list[str]:
    return [msgs[1].content for kind, msgs, _ in llm.calls if kind == "segment"]


def test_a_branch_never_sees_its_siblings_fact_and_the_summary_carries_it_on(tmp_path: Path) -> None:
    # call order: opening, A1, B1 (the fact), B2..B5, A2..A5
    script = [scene("opening"), scene("A1"), f"{FACT} You hide it again.{CHOICES}"]
    script += [scene(f"B{i}") for i in range(2, 6)] + [scene(f"A{i}") for i in range(2, 6)]
    llm = MemoryLLM(segments=script)
    settings = StorySettings(premise="A quiet meadow with two paths.", language="en", recent_segments=2)
    # requests built afresh from the context (a rebase; see test_story_transcript.py for transcripts)
    engine = StoryEngine(
        settings, llm=llm, image_backend=None, story_dir=tmp_path, inline_images=True, transcript=False
    )
    opening = engine.start()
    a1 = engine.choose(0)
    b1 = engine.choose(1, from_id=opening.id)
    assert FACT in b1.text
    for _ in range(4):
        engine.choose(0)
    b_last = engine.story.current
    engine.goto(a1.id)
    for _ in range(4):
        engine.choose(0)
    a_last = engine.story.current
    assert a_last is not None and b_last is not None

    users = segment_users(llm)
    assert len(users) == 11
    b_users, a_users = [users[2], *users[3:7]], [users[1], *users[7:11]]
    # branch A's requests (A1..A5) never carry branch B's fact, in any block
    assert all("red stone" not in u for u in a_users)
    assert all(
        "red stone" not in "\n".join(m.content for m in msgs)
        for k, msgs, _ in llm.calls
        if k != "summary" and msgs[1].content in a_users
    )
    # B's last request: the fact left the last 2 segments, and comes through the summary
    last_b = b_users[-1]
    assert "Memory (the story so far):" in last_b
    memory_line = last_b.split("Memory (the story so far): ", 1)[1].split("\n", 1)[0]
    assert "red stone" in memory_line
    record = engine.story.segment(b_last.id).context
    assert record is not None and record.summary_of is not None
    assert b1.id not in record.segments_in_full and len(record.segments_in_full) <= 3
    # every segment got its summary, once, and it is saved with the story
    saved = load_story(engine.story_path)
    assert all(s.summary for s in saved.segments.values())
    assert llm.count("summary") == len(saved.segments)
    assert "red stone" in saved.segment(b_last.id).summary
    assert "red stone" not in saved.segment(a_last.id).summary


def world() -> World:
    return World(
        name="coast",
        entries=[
            WorldEntry(uid=0, keys=["lighthouse"], comment="The lighthouse", content="The lighthouse has 300 steps."),
            WorldEntry(uid=1, keys=["Marta"], comment="Marta", content="Marta is the keeper's sister."),
            WorldEntry(uid=2, keys=["dragon"], comment="Dragon", content="No dragons live here."),
        ],
        characters=[Character(name="Marta", description="a tall woman with a grey cloak and a red scarf")],
    )


def test_world_entries_author_note_and_appearance_reach_the_requests(tmp_path: Path) -> None:
    script = [f"Marta waits at the lighthouse door.{CHOICES}", "Marta climbs the stairs in silence."]
    llm = MemoryLLM(segments=script)
    img = FakeImageBackend()
    settings = StorySettings(
        premise="A keeper and his sister on a stormy coast.",
        language="en",
        author_note="Keep it eerie.",
        author_note_depth=0,
    )
    story = Story(settings=settings, world=world())
    engine = StoryEngine(story, llm=llm, image_backend=img, story_dir=tmp_path, inline_images=True, transcript=False)
    first = engine.start()
    second = engine.choose(1)
    user = segment_users(llm)[1]
    assert "World info:\nThe lighthouse has 300 steps.\n\nMarta is the keeper's sister." in user
    assert "No dragons" not in user
    assert "[Author's note: Keep it eerie.]" in user
    assert user.index("Recent scene:\n" + first.text) < user.index("[Author's note")  # depth 0: after it
    record = second.context
    assert record is not None
    assert [(f.uid, f.reason) for f in record.fired] == [(0, "key 'lighthouse'"), (1, "key 'Marta'")]
    assert record.tokens > 0 and record.budget == DEFAULT_CONTEXT_WINDOW - 300 - 400
    assert record.counter == "estimate" and record.blocks[0].kind == "premise"
    # the second segment had no choices: the structured re-ask is told the world info
    choices_user = next(msgs[1].content for k, msgs, _ in llm.calls if k == "choices")
    assert "Marta is the keeper's sister." in choices_user
    # Marta's look from her card reaches both illustrations (she is named in each)
    assert all("Marta: a tall woman with a grey cloak and a red scarf" in spec.prompt for spec in img.specs)
    assert len(img.specs) == 2
    # the engine keeps the full context in memory too
    full = engine.memory.context_of(second.id)
    assert full is not None and full.report.tokens == record.tokens


class CountingLLM(MemoryLLM):
    n_ctx = 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_the_backends_tokenizer_and_context_window_are_used(tmp_path: Path) -> None:
    llm = CountingLLM(segments=[scene("one")])
    settings = StorySettings(premise="five words in this premise", language="en")
    engine = StoryEngine(settings, llm=llm, image_backend=None, story_dir=tmp_path, inline_images=True)
    seg = engine.start()
    assert seg.context is not None
    assert seg.context.counter == "tokenizer" and seg.context.context_window == 4096
    assert seg.context.blocks[0].tokens == 5 and seg.context.tokens == 5


def test_old_story_files_load_without_memory_fields(tmp_path: Path) -> None:
    old = {
        "format": "storybench.story",
        "version": 1,
        "id": "old1",
        "settings": {"premise": "An old story"},
        "segments": {"s001": {"id": "s001", "text": "Once.", "choices": ["a", "b"]}},
        "current_id": "s001",
    }
    path = tmp_path / "story.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    story = load_story(path)
    assert story.world is None and story.segments["s001"].summary == "" and story.segments["s001"].context is None
    assert story.settings.author_note == "" and story.settings.recent_segments == 4


class ReferenceBackend(FakeImageBackend):
    """A fake backend that honours reference images (two at most)."""

    @property
    def supports_reference_images(self) -> bool:
        return True

    @property
    def max_reference_images(self) -> int:
        return 2


def test_illustrations_carry_the_sheets_of_the_characters_they_show(tmp_path: Path) -> None:
    script = [f"Marta waits at the lighthouse door.{CHOICES}", f"Marta and Олесь climb the stairs.{CHOICES}"]
    llm = MemoryLLM(segments=script)
    img = ReferenceBackend()
    coast = world()
    coast.characters = [*coast.characters, Character(name="Олесь", description="a boy in a yellow raincoat")]
    story = Story(settings=StorySettings(premise="A stormy coast.", language="en"), world=coast)
    engine = StoryEngine(story, llm=llm, image_backend=img, story_dir=tmp_path, inline_images=True)
    engine.start()
    engine.choose(0)
    sheets = [s for s in img.specs if s.params.get("kind") == "character_sheet"]
    segments = [s for s in img.specs if s.params.get("kind") != "character_sheet"]
    # one sheet per character, rendered once, the first time the character appears
    assert [s.cast[0].name for s in sheets] == ["Marta", "Олесь"]
    assert sheets[0].prompt.startswith("character reference sheet") and "grey cloak" in sheets[0].prompt
    marta, oles = (Path(p) for p in segments[1].reference_images)
    assert segments[0].reference_images == (str(marta),)
    assert marta.is_file() and oles.is_file() and marta.parent == tmp_path / "images" / "characters"
    assert marta != oles


def test_no_references_for_a_backend_without_them(tmp_path: Path) -> None:
    llm = MemoryLLM(segments=[f"Marta waits.{CHOICES}"])
    img = FakeImageBackend()
    story = Story(settings=StorySettings(premise="A stormy coast.", language="en"), world=world())
    StoryEngine(story, llm=llm, image_backend=img, story_dir=tmp_path, inline_images=True).start()
    assert len(img.specs) == 1 and img.specs[0].reference_images == ()
    assert not (tmp_path / "images" / "characters").exists()


class TopicEmbedder:
    """A fake embedder: one dimension per topic word, so 'sea' texts are close to each other."""

    TOPICS = ("sea", "ocean", "fire", "forest")

    def _vec(self, text: str) -> np.ndarray:
        low = text.lower()
        v = np.array([1.0 if t in low else 0.0 for t in self.TOPICS], dtype=np.float32)
        v[0] = v[1] = max(v[0], v[1])  # sea and ocean mean the same
        n = float(np.linalg.norm(v))
        return v / n if n else np.full(len(self.TOPICS), 0.5, dtype=np.float32)

    def query(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def passage(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])


def test_entries_recalled_by_meaning_show_their_score(tmp_path: Path) -> None:
    kraken = WorldEntry(uid=5, keys=["kraken"], comment="Kraken", content="Something sleeps under the ocean.")
    fire = WorldEntry(uid=6, keys=["salamander"], comment="Salamander", content="A creature of fire.")
    coast = World(entries=[kraken, fire], settings=WorldSettings(semantic_top_k=1, semantic_threshold=0.5))
    llm = MemoryLLM(segments=[f"Waves of the grey sea break on the rocks.{CHOICES}"] * 2)
    story = Story(settings=StorySettings(premise="A ship far from land.", language="en"), world=coast)
    engine = StoryEngine(story, llm=llm, image_backend=None, story_dir=tmp_path, inline_images=True, transcript=False)
    assert engine.memory.semantic is None  # keys only unless asked
    engine.memory.semantic = SemanticMemory(embedder=TopicEmbedder())
    engine.start()
    second = engine.choose(0)
    assert second.context is not None
    assert [(f.uid, f.kind, f.reason) for f in second.context.fired] == [(5, "semantic", "meaning 1.00")]
    assert "Something sleeps under the ocean." in segment_users(llm)[1]
    html = context_html(second.context, {})
    assert "Kraken: meaning 1.00" in html and "Salamander" not in html
