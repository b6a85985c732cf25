"""Characters in a text (for illustration prompts and the planner) and as world entries."""

from __future__ import annotations

from storybench.world import Character, World, activate
from storybench.world.characters import appearance_lines, character_entries, characters_in


def world() -> World:
    return World(
        characters=[
            Character(name="Мирослава", description="травниця з сірими очима, у зеленому плащі"),
            Character(name="Taras Bulba", description="an old Cossack with a grey moustache " * 20),
            Character(name="Ola"),
        ]
    )


def test_characters_found_by_name_and_first_name_in_any_case():
    assert [c.name for c in characters_in(world(), "Вони побачили Мирославу біля річки.")] == ["Мирослава"]
    assert [c.name for c in characters_in(world(), "TARAS laughed; Ola did not.")] == ["Taras Bulba", "Ola"]
    assert characters_in(world(), "Olga and a violator came.") == []  # a name starts a word, not inside one


def test_appearance_lines_are_cut_at_a_word():
    lines = appearance_lines(characters_in(world(), "Мирослава і Taras"), max_chars=60)
    assert lines[0] == "Мирослава: травниця з сірими очима, у зеленому плащі"
    assert len(lines[1]) <= 60 and lines[1].endswith("…") and lines[1].startswith("Taras Bulba: an old")


def test_character_entries_fire_when_the_character_is_named():
    w = world()
    w = w.model_copy(update={"entries": character_entries(w)})
    assert [e.keys for e in w.entries] == [["Мирослава"], ["Taras Bulba", "Taras"]]  # Ola has no description
    fired = activate(w, ["Тарас? No: Taras came in."], budget=10_000).fired
    assert [(f.entry.comment, f.reason) for f in fired] == [("Taras Bulba", "key 'Taras'")]
