"""Dialogue writing with a scripted fake LLM, and distribution into panels."""

from __future__ import annotations

import pytest
from scripted_llm import ScriptedLLM

from storybench.exceptions import ConfigError, StructuredOutputError
from storybench.plan import Chapter, Character, ComicPlan, Dialogue, Page, PanelPlan, plan_issues
from storybench.prompts.dialogue import (
    DialogueContext,
    Speaker,
    context_from_panel,
    list_dialogue_presets,
    speakers_from_plan,
    write_dialogue,
    write_dialogue_into,
)

HERO = Speaker("char-1", "Mara", archetype="hero")
VILLAIN = Speaker("char-2", "Viktor", archetype="villain", personality="collects clocks")


def small_plan() -> ComicPlan:
    panels = [
        PanelPlan(id=f"p1-pan{k}", position=k, characters=["char-1"] if k == 1 else [], action=f"act {k}")
        for k in range(1, 4)
    ]
    return ComicPlan(
        id="t",
        title="T",
        style="noir",
        characters=[
            Character(id="char-1", name="Mara", appearance="a", role="hero"),
            Character(id="char-2", name="Viktor", appearance="b", role="villain"),
        ],
        chapters=[
            Chapter(id="ch1", title="C", pages=[Page(id="p1", page_number=1, layout="three-rows", panels=panels)])
        ],
    )


def test_presets_are_data_and_listed():
    presets = list_dialogue_presets()
    for key in ("hero", "villain", "mentor", "trickster", "sidekick", "love interest"):
        assert key in presets["archetypes"]
    for key in ("conflict", "banter", "exposition", "confession", "negotiation", "farewell"):
        assert key in presets["dialogue_types"]
    presets["archetypes"].clear()
    assert list_dialogue_presets()["archetypes"]  # a copy each call


def test_request_constrains_speakers_and_count_and_describes_context():
    llm = ScriptedLLM(
        [{"lines": [{"speaker": "char-2", "text": "You are late."}, {"speaker": "char-1", "text": "Traffic."}]}]
    )
    ctx = DialogueContext(location="clock tower", time_of_day="midnight", situation="stand-off", mood="tense")
    lines = write_dialogue([HERO, VILLAIN], ctx, "conflict", 2, llm=llm, language="uk", seed=3)
    assert lines == [Dialogue(character="char-2", text="You are late."), Dialogue(character="char-1", text="Traffic.")]
    messages, schema, options = llm.calls[0]
    lines_schema = schema["properties"]["lines"]
    assert lines_schema["minItems"] == lines_schema["maxItems"] == 2
    assert schema["$defs"]["DialogueLine"]["properties"]["speaker"]["enum"] == ["char-1", "char-2"]
    prompt = messages[-1].content
    assert "clock tower" in prompt and "midnight" in prompt and "Ukrainian" in prompt
    assert "villain" in prompt and "collects clocks" in prompt and "conflict" in prompt
    assert options.seed == 3


def test_unknown_speaker_after_retries_is_mapped_by_name_or_dropped():
    bad = {
        "lines": [
            {"speaker": "Viktor", "text": "Hello."},
            {"speaker": "Nobody", "text": "Hm."},
            {"speaker": "char-1", "text": "Hi."},
        ]
    }
    lines = write_dialogue([HERO, VILLAIN], DialogueContext(), "banter", 3, llm=ScriptedLLM([bad, bad]))
    assert [(d.character, d.text) for d in lines] == [("char-2", "Hello."), ("char-1", "Hi.")]


def test_nothing_usable_raises_structured_output_error():
    with pytest.raises(StructuredOutputError):
        write_dialogue([HERO], DialogueContext(), "banter", 2, llm=ScriptedLLM(["nope", "nope"]))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="dialogue type"):
        write_dialogue([HERO], DialogueContext(), "poem", llm=ScriptedLLM())
    with pytest.raises(ConfigError, match="archetype"):
        write_dialogue([Speaker("a", "A", archetype="wizard")], DialogueContext(), "banter", llm=ScriptedLLM())
    with pytest.raises(ConfigError, match="speaker"):
        write_dialogue([], DialogueContext(), "banter", llm=ScriptedLLM())


def test_write_dialogue_into_distributes_in_order_and_adds_speakers():
    plan = small_plan()
    lines = [Dialogue(character=c, text=f"line {i}") for i, c in enumerate(["char-1", "char-2", "char-1", "char-2"])]
    new = write_dialogue_into(plan, ["p1-pan1", "p1-pan2", "p1-pan3"], lines)
    pans = new.chapters[0].pages[0].panels
    assert [[d.text for d in p.dialogue] for p in pans] == [["line 0", "line 1"], ["line 2"], ["line 3"]]
    assert pans[0].characters == ["char-1", "char-2"] and pans[2].characters == ["char-2"]
    assert plan.chapters[0].pages[0].panels[0].dialogue == []  # original untouched
    assert plan_issues(new) == []
    appended = write_dialogue_into(new, ["p1-pan3"], [Dialogue(character="char-1", text="more")], replace=False)
    assert [d.text for d in appended.chapters[0].pages[0].panels[2].dialogue] == ["line 3", "more"]
    with pytest.raises(KeyError):
        write_dialogue_into(plan, ["nope"], lines)
    with pytest.raises(KeyError):
        write_dialogue_into(plan, ["p1-pan1"], [Dialogue(character="ghost", text="boo")])


def test_speakers_and_context_from_plan():
    plan = small_plan()
    speakers = speakers_from_plan(plan, ["p1-pan1"])
    assert [(s.id, s.archetype) for s in speakers] == [("char-1", "hero")]
    assert [s.id for s in speakers_from_plan(plan, ["p1-pan2"])] == ["char-1", "char-2"]
    assert context_from_panel(plan.chapters[0].pages[0].panels[0]).situation == "act 1"
