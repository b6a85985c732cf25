"""build_context scans the premise and the choice being taken for world keys, without sending them twice."""

from __future__ import annotations

from storybench.world import SegmentText, World, WorldEntry, WorldSettings, build_context


def test_premise_and_choice_are_scanned_but_not_sent_as_segments() -> None:
    world = World(
        entries=[
            WorldEntry(uid=1, keys=["harbour"], content="The harbour freezes in winter."),
            WorldEntry(uid=2, keys=["bell"], content="The bell rings at midnight."),
        ],
        settings=WorldSettings(scan_depth=3),
    )
    path = [SegmentText("s001", "You stand on the pier.")]
    plain = build_context("A town by the harbour.", path, world)
    assert plain.report.fired == []  # the premise is not scanned unless asked
    ctx = build_context(
        "A town by the harbour.", path, world, scan_before=["A town by the harbour."], scan_after=["Ring the bell"]
    )
    assert [f.entry.uid for f in ctx.report.fired] == [1, 2]
    assert [b.kind for b in ctx.blocks] == ["premise", "world_before", "segment"]
    assert "Ring the bell" not in ctx.text()
    # the premise counts in the scan depth like a segment: two segments later it is out of reach
    longer = [*path, SegmentText("s002", "Gulls cry.", choice="Wait")]
    later = build_context(
        "A town by the harbour.",
        longer,
        world.model_copy(update={"settings": WorldSettings()}),
        scan_before=["A town by the harbour."],
    )
    assert later.report.fired == []
