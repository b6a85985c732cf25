"""Illustration prompts: cleaning segment text, validating answers, retries, fallback, cache."""

from __future__ import annotations

import re

import pytest
from story_fakes import ScriptedLLM

from storybench.exceptions import TransientBackendError
from storybench.plan.styles import get_style
from storybench.story.illustration import (
    MAX_WORDS,
    IllustrationPrompter,
    check_answer,
    clean_for_illustration,
    fallback_prompt,
    illustration_render_spec,
    illustration_seed,
    postprocess_answer,
    truncate_words,
)

CYR = re.compile(r"[\u0400-\u04FF]")


def test_clean_removes_dialogue_choices_and_questions_uk() -> None:
    text = (
        "Туман огорнув маяк. «Хто тут?» — шепочеш ти. Десь грюкнули двері.\n"
        "Чи варто йти далі?\n\nЩо ти зробиш?\n1. Відкрити лист\n2. Піднятися вище"
    )
    cleaned = clean_for_illustration(text)
    assert "Туман огорнув маяк." in cleaned and "Десь грюкнули двері." in cleaned
    assert "Хто тут" not in cleaned
    assert "?" not in cleaned
    assert "Відкрити" not in cleaned and "1." not in cleaned


def test_clean_removes_all_quote_styles_en_ru() -> None:
    text = (
        'He said "run now" and left. She whispered “wait for me” at the gate. '
        "Он крикнул „стой“ и «беги» в темноту.\n— Кто там? — спросила она.\nThe lamp went out."
    )
    cleaned = clean_for_illustration(text)
    for quoted in ("run now", "wait for me", "стой", "беги", "Кто там"):
        assert quoted not in cleaned
    assert cleaned.endswith("The lamp went out.")
    assert "He said and left." in cleaned


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('Description: "A foggy lighthouse at night"', "A foggy lighthouse at night"),
        ("**Image description:** A red door in the rain.", "A red door in the rain."),
        ("Prompt: «A boat on dark water»\n\nThis image shows...", "A boat on dark water"),
        ("Here is the description: a lone keeper on the stairs", "a lone keeper on the stairs"),
        ("  'A market full of lanterns'  ", "A market full of lanterns"),
    ],
)
def test_postprocess_strips_prefixes_quotes_and_extra_paragraphs(raw: str, expected: str) -> None:
    assert postprocess_answer(raw) == expected


def test_check_answer_reasons() -> None:
    assert check_answer("") == "empty"
    assert check_answer("Темний маяк у тумані") == "cyrillic"
    assert check_answer("A dark lighthouse, маяк") == "cyrillic"
    assert check_answer(" ".join(["word"] * (MAX_WORDS + 1))) == "too long"
    assert check_answer("!!! ???") == "no letters"
    assert check_answer("A foggy lighthouse at night") is None
    assert check_answer("The sun dips below the waters. The sun dips below the waters.") == "repetitive"


def test_truncate_words_cuts_cleanly() -> None:
    text = (
        "A lonely keeper climbs the spiral stairs of an old lighthouse, lantern in hand, while the storm "
        "rages outside and waves crash against the black rocks below the tower of the"
    )
    cut = truncate_words(text, 30)
    assert len(cut.split()) <= 30
    assert not cut.endswith((",", "the", "of", " a"))


def test_prompter_rejects_cyrillic_and_retries() -> None:
    llm = ScriptedLLM()
    prompter = IllustrationPrompter(llm)
    prompt = prompter("Туман огорнув маяк. Ти піднімаєшся сходами.", "noir")
    assert prompt.startswith("A lone keeper climbs")
    assert not CYR.search(prompt) and len(prompt.split()) <= MAX_WORDS
    assert llm.count("illustration") == 2
    assert prompter.last_rejections == ["cyrillic"]
    assert prompter.last_source == "llm"


def test_prompter_falls_back_after_three_bad_attempts() -> None:
    llm = ScriptedLLM(illustrations=["Опис: темна ніч"], cyrillic_first=False)
    prompter = IllustrationPrompter(llm)
    assert prompter("Ніч. Маяк.", "cyberpunk") == fallback_prompt("cyberpunk")
    assert llm.count("illustration") == 3
    assert prompter.last_rejections == ["cyrillic"] * 3
    assert fallback_prompt("noir") != fallback_prompt("watercolor")
    assert fallback_prompt("unknown-style") == "A mysterious scene with dark atmosphere"


def test_prompter_truncates_when_every_answer_is_too_long() -> None:
    long = "A keeper " + " ".join(f"step{i}" for i in range(40))
    llm = ScriptedLLM(illustrations=[long], cyrillic_first=False)
    prompter = IllustrationPrompter(llm)
    prompt = prompter("Маяк.", "noir")
    assert prompter.last_source == "truncated"
    assert prompt.startswith("A keeper step0") and len(prompt.split()) <= MAX_WORDS


def test_prompter_counts_backend_errors_as_attempts() -> None:
    class Failing(ScriptedLLM):
        def _complete(self, messages, options):  # type: ignore[override]
            raise TransientBackendError("scripted", "server down")

    prompter = IllustrationPrompter(Failing())
    assert prompter("Маяк у тумані.", "manga") == fallback_prompt("manga")
    assert len(prompter.last_rejections) == 3 and "server down" in prompter.last_rejections[0]


def test_prompter_caches_by_text_and_style() -> None:
    llm = ScriptedLLM(cyrillic_first=False)
    prompter = IllustrationPrompter(llm)
    a = prompter("Маяк у тумані.", "noir")
    b = prompter("Маяк у тумані.", "noir")
    assert a == b and prompter.last_source == "cache" and llm.count("illustration") == 1
    prompter("Маяк у тумані.", "watercolor")
    assert llm.count("illustration") == 2
    # another prompter has its own cache
    IllustrationPrompter(llm)("Маяк у тумані.", "noir")
    assert llm.count("illustration") == 3


def test_prompter_sends_cleaned_text_only() -> None:
    llm = ScriptedLLM(cyrillic_first=False)
    IllustrationPrompter(llm)("Маяк світить. «Хто тут?» — питає він.\n1. Тікати\n2. Чекати", "noir")
    _, messages, _ = llm.calls[0]
    assert "Хто тут" not in messages[-1].content and "Тікати" not in messages[-1].content
    assert "Маяк світить." in messages[-1].content


def test_render_spec_uses_style_prefix_negative_and_stable_seed() -> None:
    spec = illustration_render_spec("A foggy lighthouse", style="noir", story_id="abc", segment_id="s002")
    style = get_style("noir")
    assert spec.prompt == f"{style.prompt_prefix}, A foggy lighthouse"
    assert spec.negative_prompt == style.negative_prompt
    assert (spec.width, spec.height) == (768, 512)
    assert spec.seed == illustration_seed("abc", "s002") != illustration_seed("abc", "s003")
    assert spec.panel_id == "s002"
