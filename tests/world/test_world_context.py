"""The context builder: per-branch memory on the story graph, placement, trimming order, budget errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from storybench.llm.base import GenerationOptions, LLMBackend, Message
from storybench.story.model import Segment, Story, StorySettings
from storybench.world import (
    ContextBudgetError,
    Position,
    SegmentText,
    World,
    WorldEntry,
    build_context,
    write_summary,
)

FACT = "the key lies under the blue stone"


class SummarisingLLM(LLMBackend):
    """A fake backend: the summary is the previous summary plus the new part's first sentence."""

    name = "fake-summary"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _complete_json(self, messages: list[Message], schema: dict, options: GenerationOptions) -> str:
        self.calls += 1
        assert schema["properties"]["summary"]["maxLength"] == 600
        found = re.search(r"Previous summary:\n(.*)\n\nNew part:\n(.*)", messages[-1].content, re.S)
        assert found is not None
        previous, new = found.groups()
        previous = "" if previous.startswith("(none") else previous
        first = new.split(". ")[0].rstrip(".") + "."
        return json.dumps({"summary": f"{previous} {first}".strip()[-600:]})

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        raise AssertionError("not used")

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        raise AssertionError("not used")


def two_branch_story() -> Story:
    """s001 -> s002, then branch A (choice 0) and branch B (choice 1) of six segments each;
    only B's first segment establishes FACT."""
    story = Story(settings=StorySettings(premise="Two friends search an old mill for a lost key."))
    story.add(Segment(id="s001", text="Ola and Taras reach the mill at dusk.", choices=["go in"]))
    story.add(
        Segment(
            id="s002",
            parent_id="s001",
            choice_index=0,
            choice_text="go in",
            text="Inside, dust covers the millstones.",
            choices=["search the loft", "search the cellar"],
        )
    )
    parent = "s002"
    for n in range(6):
        sid = f"a{n}"
        story.add(
            Segment(
                id=sid,
                parent_id=parent,
                choice_index=0,
                choice_text="search the loft" if n == 0 else "on",
                text=f"Loft part {n}. Only straw and old sacks here.",
                choices=["on"],
            )
        )
        parent = sid
    parent = "s002"
    for n in range(6):
        sid = f"b{n}"
        text = f"They learn that {FACT}. Cellar part {n}." if n == 0 else f"Cellar part {n}. Water drips."
        story.add(
            Segment(
                id=sid,
                parent_id=parent,
                choice_index=1 if n == 0 else 0,
                choice_text="search the cellar" if n == 0 else "on",
                text=text,
                choices=["on"],
            )
        )
        parent = sid
    return story


def summaries_of(story: Story, llm: LLMBackend) -> dict[str, str]:
    """Each segment's rolling summary, written once from its parent's (as the story engine will)."""
    out: dict[str, str] = {}
    for _depth, segment in story.walk():
        out[segment.id] = write_summary(llm, out.get(segment.parent_id or ""), segment.text).text
    return out


def path_texts(story: Story, segment_id: str, summaries: dict[str, str]) -> list[SegmentText]:
    return [SegmentText(s.id, s.text, summaries.get(s.id), s.choice_text) for s in story.path(segment_id)]


def test_a_branch_never_sees_what_only_its_sibling_established():
    story = two_branch_story()
    llm = SummarisingLLM()
    summaries = summaries_of(story, llm)
    assert llm.calls == len(story.segments)  # one summary per segment, written once
    world = World(entries=[WorldEntry(uid=0, keys=["blue stone"], content="The blue stone hums at night.")])
    premise = story.settings.premise

    for n in range(6):
        ctx = build_context(premise, path_texts(story, f"a{n}", summaries), world, recent=2)
        assert "blue stone" not in ctx.text(), f"branch A segment a{n} saw B's fact"
        assert ctx.report.fired == []

    seen_through_summary = []
    for n in range(6):
        ctx = build_context(premise, path_texts(story, f"b{n}", summaries), world, recent=2)
        assert FACT in ctx.text(), f"branch B segment b{n} lost its fact"
        if "b0" not in ctx.report.segments_in_full:
            summary = next(b for b in ctx.blocks if b.kind == "summary")
            assert FACT in summary.text and summary.source == ctx.report.summary_of
            seen_through_summary.append(n)
    assert seen_through_summary == [2, 3, 4, 5]  # b0 left the last 2 segments at b2
    # the world entry fires while the fact is in the scanned segments, and says why
    ctx = build_context(premise, path_texts(story, "b1", summaries), world, recent=2)
    assert [(f.entry.uid, f.reason) for f in ctx.report.fired] == [(0, "key 'blue stone'")]


def test_blocks_in_order_with_depth_entries_and_the_authors_note():
    path = [SegmentText(f"s{i}", f"segment {i}") for i in range(5)]
    world = World(
        entries=[
            WorldEntry(uid=0, constant=True, content="BEFORE"),
            WorldEntry(uid=1, constant=True, content="AFTER", position=Position.AFTER),
            WorldEntry(uid=2, constant=True, content="DEPTH1", position=Position.AT_DEPTH, depth=1),
            WorldEntry(uid=3, constant=True, content="NOTE-TOP", position=Position.AN_TOP),
        ]
    )
    ctx = build_context("PREMISE", path, world, recent=3, author_note="NOTE", author_note_depth=2)
    assert [b.text for b in ctx.blocks] == [
        "PREMISE",
        "BEFORE",
        "segment 0",
        "segment 1",
        "segment 2",
        "NOTE-TOP\n\nNOTE",
        "segment 3",
        "DEPTH1",
        "segment 4",
        "AFTER",
    ]
    assert [b.kind for b in ctx.blocks][2:4] == ["earlier", "earlier"]  # no summary yet: sent in full
    assert ctx.report.tokens == sum(b.tokens for b in ctx.blocks)


def test_trimming_follows_the_documented_order():
    path = [SegmentText(f"s{i}", "x" * 400, summary="S" * 40 if i == 1 else None) for i in range(8)]
    world = World(entries=[WorldEntry(uid=i, constant=True, content="w" * 200, order=i) for i in range(3)])
    world.settings.token_budget = 1000  # only the context window limits here
    roomy = build_context("P", path, world, recent=3, context_window=10_000, reserve=0)
    assert roomy.report.trimmed == [] and roomy.report.summary_of == "s1"
    assert roomy.report.segments_in_full == ["s2", "s3", "s4", "s5", "s6", "s7"]

    # 3 world entries of 50 tokens (one block: 2 joined are 101), summary 10, premise 1, segments 100 each
    tight = build_context("P", path, world, recent=3, context_window=420, reserve=0)
    assert tight.report.trimmed == ["3 earlier segments left out to fit", "1 world entry left out to fit"]
    assert [f.entry.uid for f in tight.report.fired] == [1, 2]  # the lowest order went first
    assert [s.entry.uid for s in tight.report.dropped_entries] == [0]
    assert tight.report.tokens == 412 and tight.report.summary_of == "s1"

    tighter = build_context("P", path, world, recent=3, context_window=105, reserve=0)
    assert tighter.report.trimmed == [
        "3 earlier segments left out to fit",
        "3 world entries left out to fit",
        "2 recent segments left out to fit",
        "1 summary left out to fit",
    ]
    assert tighter.report.segments_in_full == ["s7"] and tighter.report.summary_of is None
    assert tighter.report.tokens == 101

    with pytest.raises(ContextBudgetError, match="need 101 tokens but only 60 fit"):
        build_context("P", path, None, recent=3, context_window=60, reserve=0)


def test_the_world_budget_defaults_to_a_share_of_the_window():
    world = World(entries=[WorldEntry(uid=i, constant=True, content="w" * 400) for i in range(4)])
    ctx = build_context("P", [SegmentText("s0", "hello")], world, context_window=1000, reserve=200)
    assert ctx.report.world_budget == 200  # 25 % of 800
    assert len(ctx.report.fired) == 2 and len(ctx.report.dropped_entries) == 2
