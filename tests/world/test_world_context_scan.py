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


def test_the_one_pass_key_lookup_agrees_with_each_key_searched_alone():
    """Text keys are found for all entries in one Aho-Corasick pass; for every key of a random
    world (plain, several words, whole-word, case-sensitive, regex) and every text, the scan's
    answer equals the key's own search."""
    import random

    from storybench.world.activation import _Scan
    from storybench.world.keys import Haystack
    from storybench.world.model import World, WorldEntry, WorldSettings

    rng = random.Random(7)
    words = ["лис", "лисиця", "Fox", "fox", "den", "Den", "moon", "мавка", "ліс", "forest edge"]
    entries = []
    for uid in range(60):
        keys = [rng.choice(words) for _ in range(rng.randint(1, 3))]
        if uid % 7 == 0:
            keys.append("/mo+n/i")
        entries.append(
            WorldEntry(
                uid=uid,
                keys=keys,
                content="x",
                case_sensitive=rng.choice([None, True, False]),
                match_whole_words=rng.choice([None, True, False]),
            )
        )
    world = World(entries=entries, settings=WorldSettings(match_whole_words=False))
    texts = [
        "Лисиця бачить лис.",
        "The Fox's den at the forest edge",
        "moooon over the ліс",
        "Лисиця в denim, foxes by moonlight",
        "nothing here",
    ]
    scan = _Scan(world, texts, seed=0)
    scan.prepare(entries)
    for text in texts:
        haystack = Haystack(text)
        for entry in entries:
            primary, _ = scan.matchers(entry)
            expected = next((k for k in primary if k.matches(haystack)), None)
            assert scan.first_key(entry, primary, haystack) is expected, (text, entry.keys)
