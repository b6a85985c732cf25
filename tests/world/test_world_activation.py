"""Which entries fire: selective logic, constants, scan depth, recursion, probability, budget, order."""

from __future__ import annotations

import pytest

from storybench.world import Position, SelectiveLogic, World, WorldEntry, WorldSettings, activate


def entry(uid: int, keys: list[str], content: str = "", **fields) -> WorldEntry:
    return WorldEntry(uid=uid, keys=keys, content=content or f"entry {uid}", **fields)


def fired(world: World, *texts: str, budget: int = 10_000, seed: int = 0) -> dict[int, str]:
    return {f.entry.uid: f.reason for f in activate(world, list(texts), budget=budget, seed=seed).fired}


@pytest.mark.parametrize(
    "logic, text, fires",
    [
        (SelectiveLogic.AND_ANY, "the king and the crown", True),
        (SelectiveLogic.AND_ANY, "the king alone", False),
        (SelectiveLogic.AND_ALL, "the king, the crown and the throne", True),
        (SelectiveLogic.AND_ALL, "the king and the crown", False),
        (SelectiveLogic.NOT_ANY, "the king alone", True),
        (SelectiveLogic.NOT_ANY, "the king and the throne", False),
        (SelectiveLogic.NOT_ALL, "the king and the crown", True),
        (SelectiveLogic.NOT_ALL, "the king, the crown and the throne", False),
    ],
)
def test_secondary_key_logic_as_sillytavern(logic, text, fires):
    world = World(
        entries=[entry(0, ["king"], secondary_keys=["crown", "throne"], selective=True, selective_logic=logic)]
    )
    assert (0 in fired(world, text)) is fires


def test_secondary_keys_ignored_unless_selective():
    world = World(entries=[entry(0, ["king"], secondary_keys=["crown"], selective=False)])
    assert fired(world, "the king") == {0: "key 'king'"}


def test_constant_disabled_and_reasons():
    world = World(
        entries=[
            entry(0, [], constant=True),
            entry(1, ["castle", "tower"]),
            entry(2, ["castle"], enabled=False),
        ]
    )
    assert fired(world, "a tower rose") == {0: "constant", 1: "key 'tower'"}


def test_scan_depth_limits_how_far_back_keys_are_seen():
    world = World(
        settings=WorldSettings(scan_depth=1), entries=[entry(0, ["sword"]), entry(1, ["sword"], scan_depth=3)]
    )
    assert fired(world, "a sword", "a road", "a river", "a hill") == {}
    assert set(fired(world, "a sword", "a road", "a river")) == {1}
    assert set(fired(world, "a road", "a river", "a sword")) == {0, 1}


def test_recursion_names_the_trigger_and_is_bounded():
    chain = [entry(i, [f"k{i}"], content=f"mentions k{i + 1}") for i in range(6)]
    world = World(settings=WorldSettings(recursion_depth=2), entries=chain)
    result = fired(world, "k0 appears")
    assert result == {0: "key 'k0'", 1: "key 'k1' in entry 'k0'", 2: "key 'k2' in entry 'k1'"}
    no_rec = World(settings=WorldSettings(recursion_depth=0), entries=chain)
    assert set(fired(no_rec, "k0 appears")) == {0}


def test_prevent_and_exclude_recursion():
    world = World(
        entries=[
            entry(0, ["a0"], content="b1 c2", prevent_recursion=True),
            entry(1, ["b1"]),
            entry(2, ["x"], content="c3"),
            entry(3, ["c3"], exclude_recursion=True),
        ]
    )
    assert set(fired(world, "a0 x")) == {0, 2}


def test_probability_is_seeded_and_reported():
    world = World(entries=[entry(i, ["tree"], probability=50) for i in range(40)])
    first = activate(world, ["a tree"], budget=10**6, seed=7)
    again = activate(world, ["a tree"], budget=10**6, seed=7)
    other = activate(world, ["a tree"], budget=10**6, seed=8)
    uids = [f.entry.uid for f in first.fired]
    assert uids == [f.entry.uid for f in again.fired]
    assert uids != [f.entry.uid for f in other.fired]
    assert 5 < len(uids) < 35
    assert len(first.skipped) == 40 - len(uids)
    assert first.skipped[0].reason.startswith("probability 50 %: rolled ")
    unused = World(entries=[entry(0, ["tree"], probability=0, use_probability=False)])
    assert set(fired(unused, "tree")) == {0}


def test_budget_drops_by_priority_and_says_so():
    world = World(
        entries=[
            entry(0, ["x"], content="a" * 40, order=10),  # 10 tokens
            entry(1, ["x"], content="b" * 40, order=300),
            entry(2, [], content="c" * 40, constant=True, order=1),
            entry(3, ["x"], content="d" * 4, order=5),
        ]
    )
    result = activate(world, ["x"], budget=25)
    # priority: constant 2, then order 300 (1), then order 10 (0) does not fit: 0 and everything after dropped
    assert [f.entry.uid for f in result.fired] == [2, 1]  # insertion order: order ascending
    assert [s.entry.uid for s in result.dropped] == [0, 3]
    assert "world budget full (20 of 25 tokens used; needs 10)" in result.dropped[0].reason
    assert result.tokens == 20 and result.budget == 25


def test_insertion_order_is_order_then_uid():
    world = World(entries=[entry(0, ["x"], order=200), entry(1, ["x"], order=100), entry(2, ["x"], order=100)])
    assert list(fired(world, "x")) == [1, 2, 0]


def test_a_catastrophic_regex_key_is_a_warning_not_a_hang():
    world = World(entries=[entry(0, ["/(a|aa)+$/"]), entry(1, ["aaa"])])
    result = activate(world, ["a" * 40 + "!"], budget=1000)
    assert [f.entry.uid for f in result.fired] == [1]
    assert len(result.warnings) == 1 and "took longer than 50 ms" in result.warnings[0]


def test_positions_keep_sillytavern_numbers():
    assert Position.AT_DEPTH == 4 and SelectiveLogic.NOT_ANY == 2
