"""The loop guard on outputs a 135M model really produces."""

from __future__ import annotations

from pathlib import Path

from story_fakes import FakeImageBackend, ScriptedLLM

from storybench.story import StoryEngine, StorySettings
from storybench.story.repetition import degeneration_cut

LINE_LOOP = "Диная гарамяніё\nВсерьясь весільная\nВідрадякуса\nВідрада\nВідрадякуса\nВідрадякуса\nВідрадякуса\n"
WORD_LOOP = "The keeper looked at the sea. " + "the light the light the light " * 8
STUTTER = "She opened the box and found яміёмяміёмяміёмяміёмяміёмяміёмяміёмяміёмяміём"
CLEAN = (
    "The keeper climbed the stairs. The lamp was cold, and the sea below was black.\n\n"
    "A boat drifted towards the rocks.\n\n1. Light the lamp\n2. Run to the shore\n3. Wait"
)


def test_line_loop_is_cut_at_second_occurrence() -> None:
    cut = degeneration_cut(LINE_LOOP)
    assert LINE_LOOP[:cut] == "Диная гарамяніё\nВсерьясь весільная\nВідрадякуса\nВідрада\n"


def test_word_loop_and_stutter_are_cut() -> None:
    cut = degeneration_cut(WORD_LOOP)
    assert cut is not None and WORD_LOOP[:cut].startswith("The keeper looked at the sea.")
    assert WORD_LOOP[:cut].count("the light") <= 2
    cut = degeneration_cut(STUTTER)
    assert cut is not None and STUTTER[:cut].startswith("She opened the box and found") and len(STUTTER[:cut]) < 45


def test_sentence_loop_inside_a_paragraph_is_cut() -> None:
    text = (
        "The keeper waits. The sun dips below the horizon. The wind sighs. "
        "The sun dips below the horizon. The sun dips below the horizon. The sun"
    )
    cut = degeneration_cut(text)
    assert text[:cut].rstrip() == "The keeper waits. The sun dips below the horizon. The wind sighs."


def test_clean_text_is_not_cut() -> None:
    assert degeneration_cut(CLEAN) is None


def test_engine_stops_a_looping_stream(tmp_path: Path) -> None:
    looping = "The fog rolled in over the harbour.\n" + "Відрада Відрада\n" * 200
    llm = ScriptedLLM(segments=[looping], cyrillic_first=False)
    engine = StoryEngine(
        StorySettings(premise="A harbour", language="en"),
        llm=llm,
        image_backend=FakeImageBackend(),
        output_root=tmp_path,
        inline_images=True,
    )
    chunks: list[str] = []
    seg = engine.start(chunks.append)
    assert len("".join(chunks)) < 120  # stopped early, not after 3000 characters
    assert seg.text.startswith("The fog rolled in over the harbour.") and seg.text.count("Відрада") <= 2
    assert seg.choices_source == "structured" and len(seg.choices) == 3
