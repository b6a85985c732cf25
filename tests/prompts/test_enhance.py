"""Prompt enhancement: deterministic presets and the optional, checked LLM rewrite."""

from __future__ import annotations

import pytest
from scripted_llm import ScriptedLLM

from storybench.exceptions import BackendError, ConfigError
from storybench.prompts.enhance import enhance_prompt, list_presets, looks_english


def test_presets_listed_by_category():
    presets = list_presets()
    assert list(presets) == ["style", "lighting", "mood", "quality"]
    for key in ("dramatic", "soft", "neon", "golden hour", "rim light", "moonlight"):
        assert key in presets["lighting"]


def test_deterministic_presets_append_fragments_without_duplicates():
    r = enhance_prompt("detective in the rain, deep shadows", lighting="dramatic", mood="tense", quality="high detail")
    assert r.prompt.startswith("detective in the rain, deep shadows, dramatic chiaroscuro lighting")
    assert r.prompt.count("deep shadows") == 1
    assert "tense atmosphere" in r.prompt and "masterpiece" in r.prompt
    assert "jpeg artifacts" in r.negative
    assert r.presets == {"lighting": "dramatic", "mood": "tense", "quality": "high detail"}
    assert r.rewritten is False
    assert (
        enhance_prompt("detective in the rain, deep shadows", lighting="dramatic", mood="tense", quality="high detail")
        == r
    )


def test_length_bound_cuts_at_fragment_boundary():
    r = enhance_prompt("a " * 10 + "cat", style="cinematic", lighting="neon", max_chars=60)
    assert len(r.prompt) <= 60 and not r.prompt.endswith(",")
    assert r.notes


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigError, match="golden hour"):
        enhance_prompt("x", lighting="disco")


def test_llm_rewrite_accepted_when_short_and_english():
    llm = ScriptedLLM(["A lone detective under neon rain, cinematic, moody."])
    r = enhance_prompt("detective", lighting="neon", llm=llm, rewrite=True)
    assert r.rewritten and r.prompt == "A lone detective under neon rain, cinematic, moody."
    assert "neon lighting" in llm.calls[0][0][-1].content


@pytest.mark.parametrize(
    "answer, reason",
    [("Самотній детектив під неоновим дощем", "not English"), ("word, " * 100, "characters"), ("   ", "empty")],
)
def test_llm_rewrite_rejected_keeps_preset_prompt(answer, reason):
    r = enhance_prompt("detective", lighting="neon", llm=ScriptedLLM([answer]), rewrite=True, max_chars=200)
    assert (
        not r.rewritten and r.prompt == "detective, neon lighting, magenta and cyan glow, reflections on wet surfaces"
    )
    assert reason in r.notes[-1]


def test_llm_failure_keeps_preset_prompt():
    def boom(messages, schema):
        raise BackendError("scripted", "down")

    r = enhance_prompt("detective", llm=ScriptedLLM([boom]), rewrite=True)
    assert not r.rewritten and "down" in r.notes[-1]


def test_looks_english():
    assert looks_english("a cat on a roof at night")
    assert not looks_english("кіт на даху")
    assert not looks_english("1234 !!")
