"""Choice extraction on real-looking model outputs (English, Ukrainian, Russian, malformed)."""

from __future__ import annotations

import pytest

from storybench.story.choices import (
    MAX_CHOICES,
    ChoiceList,
    clean_choice,
    default_choices,
    extract_choices,
    finalize_choices,
)

EN_NUMBERED = """The rain had not stopped for three days. Detective Vale pulled his collar up and stared at the
warehouse door, its lock freshly broken.

Somewhere inside, a radio played an old tango.

What will you do?
1. Kick the door open
2. Circle around to the loading dock
3. Call for backup"""

UK_BOLD = """Потяг зупинився посеред степу. Провідник зник, а в тамбурі пахне димом.

**Що робити далі?**

**1.** Вийти з вагона
**2.** Пошукати провідника
**3.** Зачинитися в купе"""

RU_VARIANT = """Старый лифт дёрнулся и застыл между этажами. Свет мигнул.
— Не бойся, — прошептал кто-то за стенкой.

Вариант 1: Нажать кнопку вызова
Вариант 2: Попытаться открыть двери
Вариант 3: Ответить голосу"""

UK_VARIANT_WORD = """Ти стоїш на мосту. Внизу шумить ріка.

Варіант 1: Стрибнути у воду
Варіант 2 - Перейти міст
Варіант 3) Чекати світанку"""

EN_OPTION = """The hatch hisses open and cold light floods the corridor.

Option 1: Step into the light
Option 2: Seal the hatch again
Choice 3 - Send the drone first"""

EN_INLINE = (
    "The market is loud and crowded. A boy tugs your sleeve. What do you do? "
    "1. Follow the boy 2. Ignore him 3. Buy a map"
)

RU_PAREN = """Буря стихла. На берегу лежит разбитая лодка.

1) Осмотреть лодку
2) Развести костёр"""

EN_BULLETS = """You find three doors.

- Open the red door
- Open the blue door
* Open the green door"""

EN_MORE_THAN_FOUR = """The council waits for your answer.
1. Agree
2. Refuse
3. Ask for time
4. Leave the hall
5. Draw your sword
6. Laugh"""

UK_DUPLICATES = """Сніг падає на дах.
1. Вийти надвір
2. Розпалити піч
3. Вийти надвір
4. **Розпалити піч.**"""

NO_CHOICES = "Він довго дивився на море і мовчав. Хвилі приносили уламки чужих кораблів."

GARBAGE = """The end of the tale.
1. ...
2. 42
3. **"""


@pytest.mark.parametrize(
    "text, expected, narrative_end",
    [
        (EN_NUMBERED, ["Kick the door open", "Circle around to the loading dock", "Call for backup"], "old tango."),
        (UK_BOLD, ["Вийти з вагона", "Пошукати провідника", "Зачинитися в купе"], "пахне димом."),
        (RU_VARIANT, ["Нажать кнопку вызова", "Попытаться открыть двери", "Ответить голосу"], "за стенкой."),
        (UK_VARIANT_WORD, ["Стрибнути у воду", "Перейти міст", "Чекати світанку"], "шумить ріка."),
        (EN_OPTION, ["Step into the light", "Seal the hatch again", "Send the drone first"], "the corridor."),
        (EN_INLINE, ["Follow the boy", "Ignore him", "Buy a map"], "What do you do?"),
        (RU_PAREN, ["Осмотреть лодку", "Развести костёр"], "разбитая лодка."),
        (EN_BULLETS, ["Open the red door", "Open the blue door", "Open the green door"], "three doors."),
    ],
)
def test_extracts_choices_and_removes_them_from_narrative(text: str, expected: list[str], narrative_end: str) -> None:
    result = extract_choices(text)
    assert result.choices == expected
    assert result.narrative.endswith(narrative_end)
    for choice in expected:
        assert choice not in result.narrative


def test_heading_above_choices_is_removed() -> None:
    assert "What will you do" not in extract_choices(EN_NUMBERED).narrative
    assert "Що робити далі" not in extract_choices(UK_BOLD).narrative
    assert extract_choices("Ніч.\nЩо ти зробиш?\n1. Йти\n2. Стояти").narrative == "Ніч."
    assert extract_choices("Ночь.\nЧто ты сделаешь?\n1) Идти\n2) Стоять").narrative == "Ночь."
    assert extract_choices("Night.\nPick one:\n1. Walk\n2. Stay").narrative == "Night."


def test_a_narrative_question_above_choices_stays() -> None:
    text = "The stranger smiles. Who sent him here, and why now?\n1. Ask him\n2. Leave"
    assert extract_choices(text).narrative.endswith("why now?")


def test_more_than_four_is_capped() -> None:
    result = extract_choices(EN_MORE_THAN_FOUR)
    assert result.choices == ["Agree", "Refuse", "Ask for time", "Leave the hall"]
    assert len(result.choices) == MAX_CHOICES
    assert result.dropped == 2
    assert result.narrative == "The council waits for your answer."


def test_duplicates_are_dropped_case_and_markup_insensitive() -> None:
    result = extract_choices(UK_DUPLICATES)
    assert result.choices == ["Вийти надвір", "Розпалити піч"]
    assert result.dropped == 2


def test_no_choices_keeps_all_text() -> None:
    result = extract_choices(NO_CHOICES)
    assert result.choices == []
    assert result.narrative == NO_CHOICES


def test_garbage_choices_are_dropped() -> None:
    result = extract_choices(GARBAGE)
    assert result.choices == []
    assert result.narrative == "The end of the tale."


def test_numbers_inside_narrative_are_not_choices() -> None:
    text = "In 1999. the lighthouse was closed. He counted 3 ships and 2 boats.\nThen he slept."
    assert extract_choices(text).choices == []


def test_last_block_wins_over_earlier_numbered_lists() -> None:
    text = "Ingredients:\n1. Salt\n2. Pepper\n\nYou cook the soup. Someone knocks.\n\n1. Open\n2. Hide"
    result = extract_choices(text)
    assert result.choices == ["Open", "Hide"]
    assert "Salt" in result.narrative


def test_trailing_remark_after_choices_is_tolerated() -> None:
    text = "A fork in the road.\n1. Go left\n2. Go right\n\nChoose wisely!"
    assert extract_choices(text).choices == ["Go left", "Go right"]


def test_clean_choice_strips_markup_and_cuts_long_text() -> None:
    assert clean_choice('**"Open the door."**') == "Open the door"
    long = " ".join(f"run{i}" for i in range(40))
    cut = clean_choice(long)
    assert len(cut) <= 121 and cut.endswith("…")
    assert clean_choice("...") == ""
    assert clean_choice("A. The lighthouse") == "The lighthouse" and clean_choice("б) Бежать") == "Бежать"
    assert clean_choice("[an action]") == "" and clean_choice("Another action") == ""
    assert clean_choice("Відрада Відрада Відрада Відрада Вільнесята") == ""  # a loop, not a choice


@pytest.mark.parametrize(
    "lang, first",
    [("en", "Go forward"), ("uk", "Іти вперед"), ("ru", "Идти вперёд"), ("uk-UA", "Іти вперед"), ("xx", "Go forward")],
)
def test_default_choices_are_language_aware(lang: str, first: str) -> None:
    choices = default_choices(lang)
    assert choices[0] == first and len(choices) == 3


def test_finalize_pads_to_two_and_caps_at_four() -> None:
    assert finalize_choices(["Бігти"], "uk") == ["Бігти", "Іти вперед"]
    assert finalize_choices([], "ru") == ["Идти вперёд", "Внимательно осмотреться"]
    assert len(finalize_choices([f"Choice {c}" for c in "abcdef"], "en")) == 4


def test_truncated_repeats_are_duplicates() -> None:
    got = finalize_choices(
        [
            "The sun dips below the horizon, casting a golden glow over the dark, deserted waters",
            "The sun dips below the horizon, casting a golden glow over the dark, deserted",
            "Light the lamp",
        ],
        "en",
    )
    assert got == [
        "The sun dips below the horizon, casting a golden glow over the dark, deserted waters",
        "Light the lamp",
    ]


def test_choice_list_schema_bounds_strings() -> None:
    schema = ChoiceList.model_json_schema()
    items = schema["properties"]["choices"]
    assert items["minItems"] == items["maxItems"] == 3
    assert items["items"]["maxLength"] == 80
    with pytest.raises(ValueError):
        ChoiceList(choices=["a b", "c d"])
