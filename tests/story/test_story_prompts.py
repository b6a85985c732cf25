"""System and context prompts of the story loop."""

from __future__ import annotations

from storybench.story import Segment, Story, StorySettings
from storybench.story.messages import (
    NARRATIVE_STYLES,
    choices_messages,
    first_sentence,
    language_name,
    segment_messages,
    story_summary,
    system_prompt,
)


def chain(n: int) -> Story:
    story = Story(
        settings=StorySettings(premise="Нічне місто", language="ru", style="cyberpunk", segments_per_chapter=3)
    )
    parent = None
    for i in range(n):
        seg = Segment(
            id=story.new_segment_id(),
            parent_id=parent,
            choice_index=0 if parent else None,
            choice_text=f"выбор {i}" if parent else "",
            text=f"Сцена номер {i} началась. Потом было другое.",
            choices=["Идти", "Ждать"],
        )
        story.add(seg)
        parent = seg.id
    story.current_id = parent
    return story


def test_system_prompt_names_language_style_and_choice_rules() -> None:
    text = system_prompt("cyberpunk", "uk-UA")
    assert "Write ONLY in Ukrainian (українська)" in text
    assert NARRATIVE_STYLES["cyberpunk"] in text
    assert "2-4 numbered choices" in text and "1. [an action]" in text
    assert language_name("pt-BR") == "Portuguese (português)" and language_name("eo") == "eo"


def test_summary_keeps_opening_and_latest_within_budget() -> None:
    story = chain(60)
    summary = story_summary(story, story.current_id, max_chars=300)
    assert len(summary) <= 300
    assert summary.startswith("Сцена номер 0 началась. …")
    assert summary.endswith("Сцена номер 59 началась.")
    assert "Потом" not in summary  # first sentences only


def test_context_chapter_and_three_last_choices() -> None:
    story = chain(7)  # depths 0..6; the next segment is at depth 7
    user = segment_messages(story, story.current_id, "открыть дверь")[1].content
    assert "Chapter 3, scene 2." in user  # 7 // 3 + 1, 7 % 3 + 1
    assert "Last choices: выбор 5; выбор 6; открыть дверь." in user
    assert "The reader chose: открыть дверь." in user
    opening = segment_messages(story, None, None)[1].content
    assert "Write the opening scene" in opening and "Story so far" not in opening


def test_first_sentence_and_choices_prompt() -> None:
    assert first_sentence("Дождь. Второе предложение.") == "Дождь."
    assert first_sentence("no end mark here") == "no end mark here"
    assert len(first_sentence("word " * 100, max_chars=50)) <= 51
    msgs = choices_messages("x" * 5000, "ru")
    assert "Russian" in msgs[0].content and len(msgs[1].content) < 1600
