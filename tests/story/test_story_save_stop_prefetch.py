"""The explorer's safety and speed features, headless: stories never overwritten, Stop,
the kernel's Interrupt, prefetched choices, the branch tree's labels."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from story_fakes import SEGMENTS_UK, ScriptedLLM, parse_twee

from storybench.llm.base import register_llm_backend
from storybench.story import load_story, to_twee
from storybench.story.explorer import ExplorerModel, StoryExplorer
from storybench.story.folders import StoryConflict, slugify, story_folder_name
from storybench.ui_kit import interrupt

EN_A = "The lighthouse keeper found a letter.\n\n1. Open it\n2. Burn it\n3. Call the coast guard"
EN_B = "Sparks fly in the robot's studio.\n\n1. Paint the sky\n2. Sleep\n3. Call the gallery"


def explorer(tmp_path: Path, llm: str = "scripted", **kw: object) -> StoryExplorer:
    kw.setdefault("background", False)
    kw.setdefault("prefetch", False)
    model = ExplorerModel(
        llm_backend=llm, image_backend="fakeimg", output_root=str(tmp_path / "stories"), inline_images=True, **kw
    )
    return StoryExplorer(model, models=[])


def start(view: StoryExplorer, premise: str, language: str = "en") -> None:
    view.premise.value = premise
    view.language.value = language
    view.start.click()
    assert view.model.error == ""


def test_folder_names_come_from_title_and_id() -> None:
    assert slugify("The Lighthouse Keeper!") == "the-lighthouse-keeper"
    assert slugify("Старий маяк на краю світу") == "старий-маяк-на-краю-світу"
    assert slugify("Café déjà vu") == "cafe-deja-vu"
    assert slugify("???") == "story"
    from storybench.story.model import Story, StorySettings

    story = Story(id="3f9a0c1d2e3f", settings=StorySettings(premise="The lighthouse keeper", title=""))
    assert story_folder_name(story) == "the-lighthouse-keeper-3f9a"


def test_two_stories_saved_one_after_the_other_stay_intact(tmp_path: Path) -> None:
    register_llm_backend("script-a", lambda **kw: ScriptedLLM(segments=[EN_A], cyrillic_first=False))
    register_llm_backend("script-b", lambda **kw: ScriptedLLM(segments=[EN_B], cyrillic_first=False))
    view = explorer(tmp_path, llm="script-a")
    start(view, "The lighthouse keeper")
    view.save.click()
    path_a = Path(view.path.value)
    assert path_a.parent.name.startswith("the-lighthouse-keeper-") and path_a.name == "story.json"
    view.choice_buttons[0].click()  # autosaved: the file follows every segment
    assert len(load_story(path_a).segments) == 2

    view.model.llm_backend = "script-b"
    start(view, "A robot learns to paint")
    assert view.path.value == ""  # the path box does not keep story A's file
    view.save.click()
    path_b = Path(view.path.value)
    assert path_b != path_a and path_b.parent.name.startswith("a-robot-learns-to-paint-")

    # saving story B onto story A's file asks first; Cancel writes nothing
    view.path.value = str(path_a)
    view.save.click()
    pending = view.model.pending
    assert pending is not None and pending.kind == "overwrite-story"
    assert set(view.pending_buttons) == {"overwrite", "new", "cancel"}
    assert view.pending_box.layout.display == "flex" and "The lighthouse keeper" in view.pending_message.value
    view.pending_buttons["cancel"].click()
    assert view.model.pending is None and view.pending_box.layout.display == "none"
    a = load_story(path_a)
    assert a.settings.premise == "The lighthouse keeper" and len(a.segments) == 2
    # Save as new: B goes to a folder of its own beside A's (its own one), A untouched
    view.save.click()
    view.pending_buttons["new"].click()
    path_new = Path(view.path.value)
    assert path_new == path_b and path_new.parent.parent == path_a.parent.parent
    assert load_story(path_new).settings.premise == "A robot learns to paint"
    assert load_story(path_a).settings.premise == "The lighthouse keeper"

    # both load back intact, with their own first lines and illustrations
    for path, first in ((path_a, "The lighthouse keeper found a letter."), (path_b, "Sparks fly")):
        other = explorer(tmp_path)
        other.path.value = str(path)
        other.load.click()
        assert other.model.error == ""
        opening = other.model.story.roots()[0]
        assert opening.text.startswith(first)
        assert all((path.parent / s.image_path).is_file() for s in other.model.story.segments.values())


def test_engine_save_refuses_another_story_unless_told(tmp_path: Path) -> None:
    a = explorer(tmp_path)
    start(a, "Старий маяк на краю світу", "uk")
    b = explorer(tmp_path)
    start(b, "Нічне місто", "uk")
    with pytest.raises(StoryConflict, match="another story"):
        b.model.engine.save(a.model.engine.story_path)
    b.model.engine.save(a.model.engine.story_path, overwrite=True)
    assert load_story(a.model.engine.story_path).id == b.model.story.id
    # Overwrite through the question: the file now holds B, and B's file is that one
    c = explorer(tmp_path)
    start(c, "Третя історія", "uk")
    pending = c.model.save(b.model.engine.story_path)
    assert pending is c.model.pending
    written = c.model.resolve("overwrite")
    assert load_story(written).id == c.model.story.id and c.model.engine.story_path == written


class SlowLLM(ScriptedLLM):
    """Streams one word every ``delay`` seconds, for ever if asked (a model that loops)."""

    def __init__(self, delay: float = 0.05, words: int = 400, **kw: object) -> None:
        super().__init__(cyrillic_first=False, **kw)  # type: ignore[arg-type]
        self.delay = delay
        self.words = words
        self.script: list[int] = []
        self.streaming = threading.Event()

    def _stream(self, messages, options) -> Iterator[str]:  # type: ignore[override]
        if self.kind(messages) != "segment":
            yield from super()._stream(messages, options)
            return
        self._answer(messages, options)
        words = self.script.pop(0) if self.script else self.words
        self.streaming.set()
        with self._lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            for i in range(words):
                time.sleep(self.delay)
                yield f"word{i} "
            yield "\n\n1. Go on\n2. Turn back"
        finally:
            with self._lock:
                self.concurrent -= 1


def test_stop_keeps_the_partial_segment_and_continue_finishes_it(tmp_path: Path) -> None:
    llm = SlowLLM()
    register_llm_backend("slow", lambda **kw: llm)
    view = explorer(tmp_path, llm="slow", background=True)
    view.premise.value = "A long night"
    view.start.click()
    assert llm.streaming.wait(5)
    time.sleep(0.3)
    assert not view.stop.disabled and view.start.disabled  # Stop is live while the rest waits
    clicked = time.monotonic()
    view.stop.click()
    assert view.model.wait(5)
    assert time.monotonic() - clicked < 1.0
    seg = view.model.current
    assert seg.unfinished and seg.choices == [] and seg.text.startswith("word0 word1")
    assert "Continue" in view.unfinished_note.value or "Continue writes" in view.unfinished_note.value
    assert not view.continue_.disabled and view.stop.disabled
    assert load_story(view.model.engine.story_path).segments[seg.id].unfinished  # autosaved as unfinished
    assert view.model.node_label(seg).endswith("…")

    llm.words = 3
    view.continue_.click()
    assert view.model.wait(10) and view.model.error == ""
    assert view.model.current.id == seg.id and not seg.unfinished and seg.choices == ["Go on", "Turn back"]
    assert seg.text.startswith("word0 word1") and view.continue_.disabled


def test_kernel_interrupt_stops_a_background_generation(tmp_path: Path) -> None:
    llm = SlowLLM()
    register_llm_backend("slow-int", lambda **kw: llm)
    view = explorer(tmp_path, llm="slow-int", background=True)
    view.premise.value = "A long night"
    old = signal.getsignal(signal.SIGINT)
    try:
        view.start.click()  # installs the SIGINT handler (main thread, no kernel here)
        assert llm.streaming.wait(5) and interrupt.active_stops() == 1
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)  # what JupyterLab's Interrupt sends
        assert view.model.wait(5) and time.monotonic() - sent < 1.0
        assert view.model.current.unfinished and interrupt.active_stops() == 0
    finally:
        signal.signal(signal.SIGINT, old)


def test_prefetched_choice_is_shown_at_once_and_the_others_stay_unvisited(tmp_path: Path) -> None:
    llm = ScriptedLLM(cyrillic_first=False)
    register_llm_backend("counting", lambda **kw: llm)
    view = explorer(tmp_path, llm="counting", prefetch=True)
    start(view, "Старий маяк на краю світу", "uk")
    m = view.model
    first = m.current
    assert m.prefetcher is not None and m.prefetcher.wait(20)
    written = m.prefetcher.written
    assert len(written) == len(first.choices) == 3
    assert all(not m.story.segment(s).visited for s in written)
    view.refresh()
    assert all("sb-story-choice-ready" in b._dom_classes for b in view.choice_buttons)
    clicked = time.monotonic()
    view.choice_buttons[1].click()
    assert time.monotonic() - clicked < 0.5
    # one request only ever asked for this choice (the prefetch): the click asked nothing
    chosen = f"The reader chose: {first.choices[1]}."
    assert sum(1 for k, msgs, _ in llm.calls if k == "segment" and chosen in msgs[-1].content) == 1
    assert m.current.id == written[1] and m.current.visited and m.current.choice_text == first.choices[1]
    assert m.current.text and m.current.text[:20] in view.text.value
    assert m.wait(20)
    view.refresh()
    unvisited = [b for b in view.node_buttons if "sb-story-node-unvisited" in b._dom_classes]
    assert len(unvisited) == 2 + 3  # the two unchosen choices, and the new segment's prefetched ones
    twee = parse_twee(to_twee(m.story))
    assert all(s in twee for s in written)  # unvisited branches are exported
    # an unvisited branch can be visited and regenerated like any other
    view.model.goto(written[0])
    assert m.story.segment(written[0]).visited


def test_prefetch_gives_the_llm_up_when_the_writer_acts(tmp_path: Path) -> None:
    llm = SlowLLM(delay=0.02, words=3)
    llm.script = [3, 500]  # a quick opening, then a slow prefetch
    register_llm_backend("slow-pre", lambda **kw: llm)
    view = explorer(tmp_path, llm="slow-pre", prefetch=True)
    start(view, "A long night")
    m = view.model
    deadline = time.monotonic() + 5
    while llm.count("segment") < 2 or not llm.concurrent:  # the prefetch is streaming
        assert time.monotonic() < deadline
        time.sleep(0.01)
    clicked = time.monotonic()
    view.regenerate.click()  # the writer acts: the prefetch stops at its next chunk
    assert time.monotonic() - clicked < 1.5
    assert m.error == "" and llm.max_concurrent == 1 and m.current.parent_id is None
    assert m.wait(10)
    assert not any(s.unfinished for s in m.story.segments.values())  # the cut prefetch left nothing


def test_tree_labels_number_choice_and_version(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view, "Старий маяк на краю світу", "uk")
    view.choice_buttons[0].click()
    view.regenerate.click()
    labels = [b.description for b in view.node_buttons]
    assert labels[0] == "s001 · Start"
    assert labels[1] == "s002 · 1. Відкрити лист" and labels[2] == "s003 · 1. Відкрити лист · v2"
    current = [b for b in view.node_buttons if "sb-story-node-current" in b._dom_classes]
    assert current[0].description.startswith("s003")
    # the previous segment folds into the choice that was taken
    assert "➜ Відкрити лист" in view.previous.value
    assert view.image.value.startswith("<img src='data:image/png;base64,") and "sb-story-thumb" in view.image.value


def test_builtin_model_note_shows_in_the_widget(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    assert view.builtin_note.value == ""  # a scripted backend: no note
    view.model.llm_backend = "llamacpp"
    assert "tiny test model" in view.builtin_note.value and "ollama pull" in view.builtin_note.value
    view.model.llm_model = "/models/qwen.gguf"
    assert view.builtin_note.value == ""


def test_a_ukrainian_story_keeps_its_language_on_screen_and_on_disk(tmp_path: Path) -> None:
    # was a test of the fixture itself; now what the fixture is for: Ukrainian in, Ukrainian kept
    cyrillic = re.compile(r"[\u0400-\u04ff]")
    view = explorer(tmp_path)
    start(view, "Старий маяк на краю світу", "uk")
    saved = load_story(view.model.engine.story_path)
    assert saved.settings.language == "uk" and saved.current.text in SEGMENTS_UK[0]
    assert cyrillic.search(view.text.value) and all(cyrillic.search(c) for c in saved.current.choices)


def test_a_story_saved_while_its_image_was_drawn_draws_it_again_on_load(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view, "Старий маяк на краю світу", "uk")
    story = view.model.story
    story.current.image_status, story.current.image_path = "rendering", ""
    path = view.model.engine.save()
    other = explorer(tmp_path)
    other.path.value = str(path)
    other.load.click()
    assert other.model.current.image_status == "done" and "<img" in other.image.value


def test_the_branch_tree_stays_usable_at_50_nodes(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view, "Старий маяк на краю світу", "uk")
    m = view.model
    for i in range(49):
        if i % 3 == 2:
            view.regenerate.click()
        else:
            view.choice_buttons[0].click()
        assert m.error == ""
    assert len(m.story.segments) == 50 and len(view.node_buttons) == 50
    labels = [b.description for b in view.node_buttons]
    assert len(set(labels)) == 50  # every node tells itself apart: id, choice, version
    assert any(" · v2" in lbl for lbl in labels)  # regenerated versions are marked
    assert sum("sb-story-node-current" in b._dom_classes for b in view.node_buttons) == 1
    depths = [d for d, *_ in m.tree()]
    assert max(depths) >= 20 and all(b.layout.margin.endswith("em") for b in view.node_buttons)
