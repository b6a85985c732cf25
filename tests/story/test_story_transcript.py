"""A segment after a choice continues its parent's request as a chat transcript, so a
backend's prompt cache evaluates only the new turn (issue 24: a click as fast as a warm Start)."""

from __future__ import annotations

from pathlib import Path

from story_fakes import CHOICES_JSON, SEGMENTS_UK, ScriptedLLM

from storybench.llm.base import Message
from storybench.story import StoryEngine, StorySettings, load_story
from storybench.story.explorer.world_section import context_html
from storybench.story.model import Story
from storybench.story.transcript import MESSAGE_OVERHEAD
from storybench.story.writer import STORY_CACHE_SLOT, clean_generated_text
from storybench.world.activation import estimate_tokens
from storybench.world.model import World, WorldEntry

CHOICES = "\n\n1. Go left\n2. Go right\n3. Wait here"


def segment_calls(llm: ScriptedLLM) -> list[list[Message]]:
    return [msgs for kind, msgs, _ in llm.calls if kind == "segment"]


def engine_for(tmp_path: Path, llm: ScriptedLLM, story: Story | None = None, **kw: object) -> StoryEngine:
    story = story or Story(settings=StorySettings(premise="A keeper on a stormy coast.", language="en"))
    return StoryEngine(story, llm=llm, image_backend=None, story_dir=tmp_path, inline_images=True, **kw)


def test_a_choice_continues_the_parents_request_with_one_short_turn(tmp_path: Path) -> None:
    llm = ScriptedLLM(segments=[f"Scene {i}: the wind rises over the rocks.{CHOICES}" for i in range(3)])
    engine = engine_for(tmp_path, llm)
    first = engine.start()
    second = engine.choose(1)
    third = engine.choose(2)
    calls = segment_calls(llm)
    assert len(calls) == 3 and len(calls[0]) == 2  # the opening: system and one user message
    # each request is the one before it, unchanged, then the answer and one user turn
    assert calls[1][:2] == calls[0]
    assert calls[1][2] == Message(role="assistant", content=clean_generated_text(llm.segments[0]))
    assert calls[2][:4] == calls[1] and calls[2][4].role == "assistant" and len(calls[2]) == 6
    turn = calls[2][5].content
    assert turn == (
        "Chapter 1, scene 3. Language: English. End with numbered choices.\n"
        "The reader chose: Wait here. Write what happens next."
    )
    assert "Premise:" not in turn and "Recent scene" not in turn  # nothing sent twice
    # segment requests name the story's prompt-cache slot
    assert all(opts.cache_slot == STORY_CACHE_SLOT for kind, _, opts in llm.calls if kind == "segment")
    # the record says what was sent: the opening's blocks, then the opening, then the turn
    record = engine.story.segment(third.id).context
    assert record is not None and record.continues == second.id
    assert [(b.kind, b.source) for b in record.blocks][-2:] == [("segment", first.id), ("segment", second.id)]
    assert record.tokens == sum(estimate_tokens(m.content) for m in calls[2]) + MESSAGE_OVERHEAD * 6
    html = context_html(record, {s.id: s.text for s in engine.story.segments.values()})
    assert "sb-story-context-continues" in html and second.id in html
    # saved with the story, and read back
    assert load_story(engine.story_path).segment(third.id).context.continues == second.id


def test_siblings_share_their_parents_request_and_answer(tmp_path: Path) -> None:
    llm = ScriptedLLM(segments=[f"Scene {i}: rain.{CHOICES}" for i in range(3)])
    engine = engine_for(tmp_path, llm)
    opening = engine.start()
    engine.choose(0)
    engine.choose(2, from_id=opening.id)  # a branch beside it, as the prefetcher writes them
    _, left, right = segment_calls(llm)
    assert left[:3] == right[:3] and left[3] != right[3]
    assert "Go left" in left[3].content and "Wait here" in right[3].content


def test_choices_the_model_did_not_write_are_sent_as_the_reader_saw_them(tmp_path: Path) -> None:
    narrative = SEGMENTS_UK[3]  # no choices: a structured re-ask gives them
    llm = ScriptedLLM(segments=[narrative, SEGMENTS_UK[0]])
    engine = engine_for(tmp_path, llm)
    opening = engine.start()
    assert opening.choices_source == "structured"
    engine.choose(0)
    answer = segment_calls(llm)[1][2].content
    assert answer == opening.text + "\n\n1. Взяти ключ\n2. Відмовитися від ключа\n3. Запитати про двері"
    assert CHOICES_JSON  # the scripted re-ask's answer


class SmallWindowLLM(ScriptedLLM):
    """A scripted model with a small context window (tokens estimated as characters / 4)."""

    n_ctx = 1300


def test_the_transcript_is_built_afresh_when_it_would_not_fit(tmp_path: Path) -> None:
    long_scene = " ".join(f"Wave {j} breaks on stone {j * 7}." for j in range(24))
    llm = SmallWindowLLM(segments=[f"Scene {i}: {long_scene}{CHOICES}" for i in range(12)])
    engine = engine_for(tmp_path, llm, max_tokens=200)
    engine.start()
    for _ in range(8):
        engine.choose(0)
    path = engine.story.path()
    records = [s.context for s in path[1:]]
    assert all(r is not None for r in records)
    continued = [r.continues is not None for r in records if r is not None]
    # some requests continued the one before, and at least one was rebuilt from the context
    assert any(continued) and not all(continued)
    calls = segment_calls(llm)
    for msgs in calls:
        used = sum(estimate_tokens(m.content) for m in msgs) + MESSAGE_OVERHEAD * len(msgs)
        assert len(msgs) == 2 or used + 200 <= llm.n_ctx  # a transcript always leaves room for the answer
    rebuilt = [i for i, c in enumerate(continued) if not c]
    first_rebuilt = calls[rebuilt[0] + 1]
    assert len(first_rebuilt) == 2 and "Recent scene:" in first_rebuilt[1].content
    # a rebuilt request leaves room for the turns after it: the next one continues it
    assert rebuilt[0] + 2 < len(calls) and calls[rebuilt[0] + 2][:2] == first_rebuilt


def test_world_info_that_fires_later_is_sent_once_in_a_turn_with_the_authors_note(tmp_path: Path) -> None:
    world = World(
        entries=[
            WorldEntry(uid=0, keys=["lighthouse"], comment="The lighthouse", content="The lighthouse has 300 steps."),
            WorldEntry(uid=1, keys=["dragon"], comment="Dragon", content="No dragons live here."),
        ]
    )
    settings = StorySettings(
        premise="A keeper on a stormy coast.", language="en", author_note="Keep it eerie.", author_note_depth=0
    )
    llm = ScriptedLLM(
        segments=[f"You climb the lighthouse stairs.{CHOICES}", f"The lamp hums above you.{CHOICES}", "x" + CHOICES]
    )
    engine = engine_for(tmp_path, llm, Story(settings=settings, world=world))
    engine.start()
    second = engine.choose(0)
    engine.choose(0)
    _, two, three = segment_calls(llm)
    assert two[-1].content == (
        "Chapter 1, scene 2. Language: English. End with numbered choices.\n[Author's note: Keep it eerie.]\n"
        "World info:\nThe lighthouse has 300 steps.\nThe reader chose: Go left. Write what happens next."
    )
    assert "lighthouse has 300" not in three[-1].content  # already in the transcript
    assert "[Author's note: Keep it eerie.]" in three[-1].content
    assert "No dragons" not in "".join(m.content for m in three)
    record = engine.story.segment(second.id).context
    assert record is not None and [(f.uid, f.reason) for f in record.fired] == [(0, "key 'lighthouse'")]
    assert ("world_after", "0") in [(b.kind, b.source) for b in record.blocks]


def test_a_loaded_story_starts_a_new_transcript_and_continues_it(tmp_path: Path) -> None:
    llm = ScriptedLLM(segments=[f"Scene {i}: fog.{CHOICES}" for i in range(4)])
    engine = engine_for(tmp_path, llm)
    engine.start()
    engine.close()
    again = StoryEngine(load_story(engine.story_path), llm=llm, image_backend=None, story_dir=tmp_path)
    child = again.choose(0)
    grandchild = again.choose(1)
    calls = segment_calls(llm)
    assert len(calls[1]) == 2 and "Recent scene:" in calls[1][1].content  # built afresh: nothing known
    assert calls[2][:2] == calls[1]
    assert child.context is not None and child.context.continues is None
    assert grandchild.context is not None and grandchild.context.continues == child.id
    again.close()


def test_with_transcripts_off_every_request_is_built_afresh(tmp_path: Path) -> None:
    llm = ScriptedLLM(segments=[f"Scene {i}: dusk.{CHOICES}" for i in range(3)])
    engine = engine_for(tmp_path, llm, transcript=False)
    engine.start()
    engine.choose(0)
    engine.choose(0)
    assert [len(m) for m in segment_calls(llm)] == [2, 2, 2]
    assert all(s.context is None or s.context.continues is None for s in engine.story.segments.values())


def test_continue_finishes_a_stopped_segment_from_its_own_request(tmp_path: Path) -> None:
    llm = ScriptedLLM(
        segments=[f"Scene 0: night.{CHOICES}", "The wind howls on and on across the rocks.", f"It stops.{CHOICES}"]
    )
    engine = engine_for(tmp_path, llm)
    engine.start()

    def stop_at_once(_chunk: str) -> None:
        engine.stop()

    partial = engine.choose(0, stop_at_once)
    before = partial.text
    assert partial.unfinished and before
    engine.continue_segment()
    assert not partial.unfinished and partial.choices == ["Go left", "Go right", "Wait here"]
    asked, continued = segment_calls(llm)[1:3]
    assert continued[: len(asked)] == asked  # the request it was written from, unchanged
    assert continued[len(asked)] == Message(role="assistant", content=before)
    child = engine.choose(1)
    assert child.context is not None and child.context.continues == partial.id


class PrefillLLM(ScriptedLLM):
    """A scripted model that records what it is asked to evaluate ahead."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.prefilled: list[tuple[list[Message], str]] = []

    def prefill(self, messages, **options) -> bool:
        self.prefilled.append((list(messages), options.get("cache_slot", "")))
        return True


def test_the_readers_segment_gets_its_next_turns_head_evaluated_before_its_choices_show(tmp_path: Path) -> None:
    llm = PrefillLLM(segments=[f"Scene {i}: gulls.{CHOICES}" for i in range(3)])
    settings = StorySettings(premise="A keeper on a stormy coast.", language="en", author_note="Keep it eerie.")
    engine = engine_for(tmp_path, llm, Story(settings=settings))
    engine.start()
    assert len(llm.prefilled) == 1
    ahead, slot = llm.prefilled[0]
    assert slot == STORY_CACHE_SLOT
    engine.choose(2)
    asked = segment_calls(llm)[1]
    # what was evaluated ahead is the request's head: all its messages, and the start of its last one
    assert ahead[:-1] == asked[:-1] and asked[-1].content.startswith(ahead[-1].content)
    assert ahead[-1].content.endswith("[Author's note: Keep it eerie.]\n")
    # prefetched (not current) segments get no head start; off with transcripts off
    ahead = engine.write_segment(engine.story.current_id, 0, make_current=False, visited=False)
    assert len(llm.prefilled) == 2
    # ... until the reader opens it: then its choices' requests get theirs
    engine.visit(ahead.id)
    assert len(llm.prefilled) == 3 and llm.prefilled[2][0][-2].role == "assistant"
    assert llm.prefilled[2][0][-2].content.startswith(ahead.text[:20])


class PrefillSmallWindowLLM(PrefillLLM):
    n_ctx = 1300


def is_head_of(ahead: list[Message], asked: list[Message]) -> bool:
    return ahead[:-1] == asked[: len(ahead) - 1] and asked[len(ahead) - 1].content.startswith(ahead[-1].content)


def test_every_request_begins_with_what_was_evaluated_ahead_whether_continued_or_built_afresh(tmp_path: Path) -> None:
    long_scene = " ".join(f"Wave {j} breaks on stone {j * 7}." for j in range(24))
    for transcript in (True, False):
        llm = PrefillSmallWindowLLM(segments=[f"Scene {i}: {long_scene}{CHOICES}" for i in range(12)])
        engine = engine_for(tmp_path / str(transcript), llm, max_tokens=200, transcript=transcript)
        engine.start()
        for n in range(8):
            engine.choose(n % 3)
        asked = segment_calls(llm)[1:]
        ahead = [m for m, _ in llm.prefilled]
        assert len(ahead) == 9 and all(slot == STORY_CACHE_SLOT for _, slot in llm.prefilled)
        assert all(is_head_of(a, q) for a, q in zip(ahead, asked, strict=False)), transcript
        rebuilt = [len(q) == 2 for q in asked]
        assert all(rebuilt) if not transcript else any(rebuilt) and not all(rebuilt)
        # a head built afresh ends at the chapter line: the choice's words are all that is left
        fresh = [a for a in ahead if len(a) == 2]
        assert fresh and all(a[1].content.rstrip().splitlines()[-1].startswith("Chapter ") for a in fresh)


def test_continue_rebuilds_the_request_when_the_transcript_leaves_no_room_for_the_answer(tmp_path: Path) -> None:
    long_scene = " ".join(f"Wave {j} breaks on stone {j * 7}." for j in range(40))
    llm = PrefillSmallWindowLLM(
        segments=[f"Scene {i}: {long_scene}{CHOICES}" for i in range(2)] + ["The wind howls.", f"It stops.{CHOICES}"]
    )
    llm.n_ctx = 2048
    engine = engine_for(tmp_path, llm, max_tokens=200)
    engine.start()
    engine.choose(0)

    def stop_at_once(_chunk: str) -> None:
        engine.stop()

    partial = engine.choose(1, stop_at_once)
    sent = engine.memory.sent(partial.id)
    assert sent is not None and len(sent.messages) == 6  # written from a transcript
    roomy = engine.memory.continue_request(partial)
    assert roomy[:6] == list(sent.messages)
    used = sum(estimate_tokens(m.content) for m in roomy) + MESSAGE_OVERHEAD * len(roomy)
    llm.n_ctx = used + 200 - 1  # one token short of room for the answer
    tight = engine.memory.continue_request(partial)
    assert len(tight) == 4 and tight[1].content.startswith("Premise:")  # built afresh, then the text
    assert tight[2] == Message(role="assistant", content=partial.text)
