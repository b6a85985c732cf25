"""The engine's parts on their own: writer drafts, the LLM gate, options, the deprecated names."""

from __future__ import annotations

import importlib
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from story_fakes import FakeImageBackend, ScriptedLLM

from storybench.exceptions import Cancelled, ConfigError
from storybench.llm.base import Message
from storybench.story import StoryEngine, StorySettings
from storybench.story.engine import EngineOptions
from storybench.story.illustration import IllustrationPrompter
from storybench.story.llm_gate import LLMGate
from storybench.story.writer import SamplingOptions, SegmentWriter

MESSAGES = [
    Message(role="system", content="You are the narrator of an interactive story."),
    Message(role="user", content="go"),
]


def writer(llm: ScriptedLLM | None = None) -> SegmentWriter:
    backend = llm or ScriptedLLM()
    return SegmentWriter(lambda: backend, LLMGate(), SamplingOptions())


def test_a_whole_answer_is_a_finished_draft() -> None:
    chunks: list[str] = []
    draft = writer().write(MESSAGES, chunks.append, cancel=threading.Event())
    assert not draft.stopped and draft.interrupt is None
    assert draft.raw == "".join(chunks) and draft.text.startswith("Туман огорнув")


def test_stop_keeps_the_text_so_far() -> None:
    stop = threading.Event()
    seen: list[str] = []

    def on_chunk(chunk: str) -> None:
        seen.append(chunk)
        if len(seen) == 3:
            stop.set()

    draft = writer().write(MESSAGES, on_chunk, cancel=threading.Event(), stop=stop)
    assert draft.stopped and draft.raw == "".join(seen[:3]) and draft.interrupt is None


def test_an_interrupt_from_the_callback_is_kept_in_the_draft() -> None:
    seen: list[str] = []

    def on_chunk(chunk: str) -> None:
        seen.append(chunk)
        if len(seen) == 2:
            raise KeyboardInterrupt

    draft = writer().write(MESSAGES, on_chunk, cancel=threading.Event())
    assert draft.stopped and isinstance(draft.interrupt, KeyboardInterrupt)
    assert draft.raw == "".join(seen)
    with pytest.raises(KeyboardInterrupt):
        draft.reraise()


def test_cancel_keeps_nothing() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        writer().write(MESSAGES, None, cancel=cancel)


def test_background_work_gives_the_gate_up_to_an_urgent_request() -> None:
    gate = LLMGate()
    order: list[str] = []
    entered = threading.Event()

    def background() -> None:
        with gate.background():
            entered.set()
            while not gate.preempted():
                time.sleep(0.001)
            order.append("background gave up")

    t = threading.Thread(target=background)
    t.start()
    entered.wait(5)
    with gate.urgent():
        order.append("urgent")
    t.join(5)
    assert order == ["background gave up", "urgent"]
    with gate.urgent(), gate.background():  # re-entrant for the holder
        assert not gate.preempted()


def test_the_illustration_prompt_is_asked_again_after_a_preemption() -> None:
    gate = LLMGate()
    llm = ScriptedLLM(cyrillic_first=False, chunk=2)
    hold = threading.Event()
    release = threading.Event()
    real_stream = llm._stream

    def slow_stream(messages, options):  # type: ignore[no-untyped-def]
        for i, chunk in enumerate(real_stream(messages, options)):
            if i == 1 and not hold.is_set():
                hold.set()
                release.wait(5)
            yield chunk

    llm._stream = slow_stream  # type: ignore[method-assign]
    prompter = IllustrationPrompter(llm, gate=gate)
    result: list[str] = []
    t = threading.Thread(target=lambda: result.append(prompter("Маяк у тумані.", "noir")))
    t.start()
    assert hold.wait(5)
    urgent_done = threading.Event()

    def urgent() -> None:
        with gate.urgent():
            urgent_done.set()

    u = threading.Thread(target=urgent)
    u.start()
    while not gate.preempted():
        time.sleep(0.001)
    release.set()
    u.join(5)
    t.join(5)
    assert urgent_done.is_set()
    # the first answer was given up half-way; the prompt was asked again and that answer kept
    assert result == ["An old letter with a wax seal on a stone windowsill, stormy sea below, lamp light"]
    assert llm.count("illustration") == 2


def test_engine_options_and_the_old_keywords_agree(tmp_path: Path) -> None:
    llm, img = ScriptedLLM(), FakeImageBackend()
    by_keywords = StoryEngine(StorySettings(premise="A lighthouse"), llm=llm, image_backend=img, output_root=tmp_path)
    opts = EngineOptions(llm=llm, image_backend=img, output_root=tmp_path)
    by_options = StoryEngine(StorySettings(premise="A lighthouse"), opts)
    assert by_keywords.options.max_tokens == by_options.options.max_tokens == 300
    assert by_keywords.story_dir.parent == by_options.story_dir.parent == tmp_path
    mixed = StoryEngine(StorySettings(premise="A lighthouse"), opts, max_tokens=64)
    assert mixed.max_tokens == 64 and mixed.options.llm is llm
    with pytest.raises(TypeError, match="max_token"):
        StoryEngine(StorySettings(premise="A lighthouse"), max_token=64)
    with pytest.raises(ConfigError, match="max_tokens"):
        EngineOptions(max_tokens=8)


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("storybench.story.prompts", "segment_messages", "storybench.story.messages"),
        ("storybench.prompts.illustration", "IllustrationPrompter", "storybench.story.illustration"),
    ],
)
def test_old_module_names_still_work_with_a_warning(old: str, name: str, new: str) -> None:
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_background_work_waits_for_the_settle_time_after_an_urgent_request() -> None:
    gate = LLMGate(settle_s=0.3)
    with gate.urgent():
        pass
    ended = time.monotonic()
    with gate.background():
        waited = time.monotonic() - ended
    assert waited >= 0.29
    with gate.background():  # no urgent request since: no wait
        assert time.monotonic() - ended < waited + 0.2
