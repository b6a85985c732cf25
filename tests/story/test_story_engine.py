"""The story engine with a scripted LLM and a fake image backend."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from story_fakes import FakeImageBackend, ScriptedLLM

from storybench.exceptions import ConfigError, TransientBackendError
from storybench.story import StoryEngine, StorySettings, load_story
from storybench.story.demo import walk
from storybench.story.illustration import MAX_WORDS

CYR = re.compile(r"[\u0400-\u04FF]")
PREMISE_UK = "Старий маяк на краю світу, де доглядач чекає на корабель, що ніколи не повертається"


def make_engine(tmp_path: Path, **kw) -> tuple[StoryEngine, ScriptedLLM, FakeImageBackend]:
    llm = kw.pop("llm", None) or ScriptedLLM()
    img = kw.pop("image_backend", None) or FakeImageBackend()
    settings = StorySettings(premise=kw.pop("premise", PREMISE_UK), language=kw.pop("language", "uk"), style="noir")
    engine = StoryEngine(
        settings, llm=llm, image_backend=img, output_root=tmp_path, inline_images=kw.pop("inline_images", True), **kw
    )
    return engine, llm, img


def test_three_choice_walk_in_ukrainian(tmp_path: Path) -> None:
    engine, llm, img = make_engine(tmp_path)
    chunks: list[str] = []
    engine.start(chunks.append)
    assert len(chunks) > 5 and "".join(chunks).startswith("Туман")  # streamed in pieces
    for pick in (0, 1, 2):
        engine.choose(pick, chunks.append)
    story = engine.story
    path = story.path()
    assert len(path) == 4 and len(story.segments) == 4
    for s in path:
        assert 2 <= len(s.choices) <= 4
        assert s.text and not re.search(r"^\s*(\*\*)?\d[.)]", s.text, re.M)  # choice lines not in the text
        assert s.illustration_prompt and not CYR.search(s.illustration_prompt)
        assert len(s.illustration_prompt.split()) <= MAX_WORDS
        assert s.image_status == "done" and s.image_error == ""
        assert (engine.story_dir / s.image_path).is_file()
        assert s.image_path == f"images/{s.id}.png"
    # the choices came from the text, with the fifth bold one gone and a duplicate dropped
    assert path[1].choices == ["Запалити лампу", "Сховати лист у кишеню", "Спуститися до моря", "Покликати доглядача"]
    assert path[2].choices == ["Помахати у відповідь", "Подати сигнал ліхтарем", "Вимкнути світло"]
    # the fourth segment had no choices: asked once more, structured
    assert path[3].choices_source == "structured" and path[3].choices == [
        "Взяти ключ",
        "Відмовитися від ключа",
        "Запитати про двері",
    ]
    assert llm.count("choices") == 1
    # choices taken are recorded on the children
    assert [s.choice_text for s in path[1:]] == ["Відкрити лист", "Сховати лист у кишеню", "Вимкнути світло"]
    # the render specs: style prefix, size, stable seeds, one per segment
    assert len(img.specs) == 4 and all(sp.width == 768 and sp.height == 512 for sp in img.specs)
    assert len({sp.seed for sp in img.specs}) == 4
    # the story was saved as it went
    assert load_story(engine.story_path).segments.keys() == story.segments.keys()


def test_context_carries_premise_summary_chapter_and_last_choices(tmp_path: Path) -> None:
    # every request built afresh (no transcript): tests/story/test_story_transcript.py has the other way
    engine, llm, _ = make_engine(tmp_path, transcript=False)
    engine.start()
    for pick in (0, 0, 0, 0):
        engine.choose(pick)
    segment_calls = [c for c in llm.calls if c[0] == "segment"]
    system, user = segment_calls[-1][1][0].content, segment_calls[-1][1][1].content
    assert "Ukrainian" in system and "numbered choices" in system
    assert f"Premise: {PREMISE_UK}" in user
    assert "Story so far: Туман огорнув старий маяк." in user
    assert "Chapter 1, scene 5" in user
    taken = [s.choice_text for s in engine.story.path()[1:]]
    assert f"Last choices: {'; '.join(taken[-3:])}." in user
    assert taken[0] not in user.split("Last choices:")[1]  # only the last three
    opts = segment_calls[-1][2]
    assert opts.max_tokens == 300 and "\n5." in opts.stop
    # the summary stays bounded however long the story gets
    for _ in range(20):
        engine.choose(0)
    user = [c for c in llm.calls if c[0] == "segment"][-1][1][1].content
    summary = user.split("Story so far: ", 1)[1].split("\n", 1)[0]
    assert len(summary) <= 700


def test_regenerate_keeps_old_version_and_descendants(tmp_path: Path) -> None:
    engine, _, _ = make_engine(tmp_path)
    first = engine.start()
    second = engine.choose(0)
    third = engine.choose(1)
    new_second = engine.regenerate(second.id)
    assert new_second.id != second.id
    assert (new_second.parent_id, new_second.choice_index) == (first.id, 0)
    assert engine.story.current_id == new_second.id
    assert [s.id for s in engine.story.children_for(first.id, 0)] == [second.id, new_second.id]
    saved = json.loads(engine.story_path.read_text(encoding="utf-8"))
    assert saved["format"] == "storybench.story" and saved["version"] == 1
    assert {second.id, third.id, new_second.id} <= set(saved["segments"])
    assert saved["segments"][third.id]["parent_id"] == second.id
    # back to the old branch and continue it
    engine.goto(third.id)
    assert [s.id for s in engine.story.path()] == [first.id, second.id, third.id]


def test_back_and_new_branch_from_earlier_segment(tmp_path: Path) -> None:
    engine, _, _ = make_engine(tmp_path)
    first = engine.start()
    a = engine.choose(0)
    engine.choose(0)
    assert engine.back().id == a.id
    assert engine.back().id == first.id
    with pytest.raises(ConfigError, match="beginning"):
        engine.back()
    b = engine.choose(2)
    assert b.parent_id == first.id and b.choice_index == 2
    c = engine.choose(1, from_id=first.id)
    assert c.parent_id == first.id and len(engine.story.children(first.id)) == 3
    with pytest.raises(IndexError):
        engine.choose(7)


def test_failed_image_never_blocks_the_story_and_can_be_retried(tmp_path: Path) -> None:
    engine, _, _img = make_engine(tmp_path, image_backend=FakeImageBackend(fail_first=1, message="GPU on fire"))
    seg = engine.start()
    assert seg.image_status == "failed" and "GPU on fire" in seg.image_error
    nxt = engine.choose(0)
    assert nxt.image_status == "done"
    engine.retry_image(seg.id)
    assert seg.image_status == "done" and seg.image_error == "" and (engine.story_dir / seg.image_path).is_file()


def test_images_render_in_background_after_the_text(tmp_path: Path) -> None:
    gate = threading.Event()

    class Slow(FakeImageBackend):
        def render(self, spec):  # type: ignore[override]
            assert gate.wait(10)
            return super().render(spec)

    seen: list[tuple[str, str]] = []
    engine, _, _ = make_engine(tmp_path, image_backend=Slow(), inline_images=False)
    engine.on_image = lambda s: seen.append((s.id, s.image_status))
    seg = engine.start()
    assert seg.text and seg.image_status in ("pending", "rendering")  # text came back first
    gate.set()
    assert engine.wait_images(10)
    assert seg.image_status == "done"
    assert seen[-1] == (seg.id, "done") and (seg.id, "rendering") in seen
    engine.close()


def test_llm_failure_adds_nothing(tmp_path: Path) -> None:
    class Broken(ScriptedLLM):
        def _stream(self, messages, options):  # type: ignore[override]
            yield "Початок"
            raise TransientBackendError("scripted", "connection reset")

    engine, _, _ = make_engine(tmp_path, llm=Broken())
    with pytest.raises(TransientBackendError):
        engine.start()
    assert engine.story.segments == {} and engine.story.current_id is None


def test_no_choices_and_failed_structured_request_gives_defaults(tmp_path: Path) -> None:
    llm = ScriptedLLM(segments=["Тиша. Лише вітер."], choices_json='{"choices": ["x"]}')
    engine, _, _ = make_engine(tmp_path, llm=llm, language="ru")
    seg = engine.start()
    assert seg.choices_source == "default"
    assert seg.choices == ["Идти вперёд", "Внимательно осмотреться", "Повернуть назад"]
    assert llm.count("choices") == 1  # asked once, not more


def test_two_stories_are_independent(tmp_path: Path) -> None:
    e1, llm1, _ = make_engine(tmp_path)
    e2, llm2, _ = make_engine(
        tmp_path,
        premise="A robot learns to paint",
        language="en",
        llm=ScriptedLLM(segments=["Sparks fly in the studio.\n1. Paint\n2. Sleep"], cyrillic_first=False),
    )
    e1.start()
    e2.start()
    e1.choose(0)
    assert e1.story.id != e2.story.id and e1.story_dir != e2.story_dir
    assert len(e1.story.segments) == 2 and len(e2.story.segments) == 1
    assert e2.story.current.choices == ["Paint", "Sleep"]
    assert llm2.count("segment") == 1 and llm1.count("segment") == 2
    assert e1.prompter is not e2.prompter


def test_save_load_round_trip(tmp_path: Path) -> None:
    engine, _, _ = make_engine(tmp_path)
    engine.start()
    engine.choose(1)
    engine.regenerate()
    path = engine.save(tmp_path / "copy.json")
    loaded = load_story(path)
    assert loaded == engine.story
    assert loaded.ifid == engine.story.ifid and re.fullmatch(r"[0-9A-F-]{36}", loaded.ifid)
    # a loaded story continues where it stopped, with new ids
    cont = StoryEngine(
        loaded, llm=ScriptedLLM(), image_backend=FakeImageBackend(), story_dir=tmp_path / "cont", inline_images=True
    )
    seg = cont.choose(0)
    assert seg.id not in engine.story.segments and seg.parent_id == engine.story.current_id


def test_bad_settings_fail_early() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        StorySettings(premise="x", style="baroque")
    with pytest.raises(ValueError):
        StorySettings(premise="   ")
    with pytest.raises(ConfigError, match="max_tokens"):
        StoryEngine(StorySettings(premise="x"), max_tokens=2)


def test_demo_walk_by_backend_names(tmp_path: Path) -> None:
    chunks: list[str] = []
    story, engine = walk(
        PREMISE_UK,
        choices=[0, "ЛИСТ", 2],
        language="uk",
        llm="scripted",
        image_backend="fakeimg",
        output_root=tmp_path,
        on_chunk=chunks.append,
    )
    path = story.path()
    assert len(path) == 4
    # an index, then a piece of text (case-insensitive), then an index again
    assert [s.choice_text for s in path[1:]] == ["Відкрити лист", "Сховати лист у кишеню", "Вимкнути світло"]
    assert all(s.image_status == "done" for s in path)
    assert load_story(engine.story_path) == story
    assert "".join(chunks).count("Туман огорнув") == 1


def test_cancel_from_the_chunk_callback_adds_nothing_and_releases_the_llm(tmp_path: Path) -> None:
    from storybench.exceptions import Cancelled

    engine, llm, _ = make_engine(tmp_path)
    seen: list[str] = []

    def stop_after_three(chunk: str) -> None:
        seen.append(chunk)
        if len(seen) == 3:
            engine.cancel()

    with pytest.raises(Cancelled):
        engine.start(stop_after_three)
    assert engine.story.segments == {} and llm.concurrent == 0
    # the lock was released: another thread can generate right away
    result: list[str] = []
    t = threading.Thread(target=lambda: result.append(engine.start().id))
    t.start()
    t.join(5)
    assert result == ["s001"]
