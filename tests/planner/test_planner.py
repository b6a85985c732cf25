"""plan_comic against a scripted fake LLM: stages, retries, repairs, page-count rules."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from scripted_llm import ScriptedLLM

from storybench.exceptions import BackendError, ConfigError
from storybench.plan import TEMPLATES, load_plan, plan_issues
from storybench.planner import plan_comic
from storybench.planner.cli import add_plan_command

CAST = {
    "characters": [
        {
            "name": "Mara Voss",
            "appearance": "tall woman, 40s, grey streak in black hair",
            "clothing": "trench coat",
            "role": "hero",
        },
        {"name": "Bob", "appearance": "short bald man, 50s", "clothing": "cheap suit", "role": "sidekick"},
    ]
}


def structure(*layouts: str, chapters: int = 1) -> dict:
    pages = [{"summary": f"page {i + 1} events", "layout": lay} for i, lay in enumerate(layouts)]
    per = -(-len(pages) // chapters)
    return {
        "title": "Ghost of Podil",
        "chapters": [{"title": f"Part {c + 1}", "pages": pages[c * per : (c + 1) * per]} for c in range(chapters)],
    }


def panel(action: str = "Mara looks at the rain", speaker: str = "char-1", text: str = "It is late.", **kw) -> dict:
    p = {
        "characters": ["char-1"],
        "action": action,
        "location": "rainy street, night",
        "mood": "tense",
        "camera": "close-up",
        "dialogue": [{"speaker": speaker, "text": text}] if speaker else [],
        "narrative": "",
        "sfx": "",
    }
    p.update(kw)
    return p


def panels(n: int, **kw) -> dict:
    return {"panels": [panel(action=f"action {i + 1}", **kw) for i in range(n)]}


def run(script, max_pages=1, **kw):
    llm = ScriptedLLM(script)
    result = plan_comic("A detective hunts a ghost in rainy Kyiv", max_pages=max_pages, llm=llm, progress=False, **kw)
    assert plan_issues(result.plan) == []
    return result, llm


def test_valid_answers_give_plan_without_repairs_and_code_assigned_ids():
    result, llm = run([CAST, structure("grid-2x2"), panels(4)])
    plan = result.plan
    assert result.repairs == []
    assert [c.id for c in plan.characters] == ["char-1", "char-2"]
    assert all(c.seed is not None for c in plan.characters)
    page = plan.chapters[0].pages[0]
    assert (plan.chapters[0].id, page.id, page.page_number) == ("ch1", "ch1-p1", 1)
    assert [p.id for p in page.panels] == [f"ch1-p1-pan{k}" for k in range(1, 5)]
    assert [p.position for p in page.panels] == [1, 2, 3, 4]
    assert page.panels[0].dialogue[0].character == "char-1"
    assert plan.id == "a-detective-hunts-a-ghost-in-rainy-kyiv" and plan.title == "Ghost of Podil"  # id from the prompt
    assert len(llm.calls) == 3 and result.requests == 3


def test_stage3_schema_has_exact_panel_count_and_character_enum():
    _, llm = run([CAST, structure("big-top"), panels(3)])
    schema = llm.calls[2][1]
    arr = schema["properties"]["panels"]
    assert arr["minItems"] == arr["maxItems"] == 3
    panel_def = schema["$defs"]["PanelDraft"]
    assert panel_def["properties"]["characters"]["items"]["enum"] == ["char-1", "char-2"]
    assert schema["$defs"]["DialogueDraft"]["properties"]["speaker"]["enum"] == ["char-1", "char-2"]
    assert set(panel_def["required"]) == set(panel_def["properties"])  # every field must be written
    assert "exactly 3 panels" in llm.calls[2][0][-1].content


def test_wrong_panel_count_is_asked_again_with_the_validation_error():
    result, llm = run([CAST, structure("grid-2x2"), panels(3), panels(4)])
    assert result.repairs == []
    retry_messages = llm.calls[3][0]
    assert "invalid" in retry_messages[-1].content and "panels" in retry_messages[-1].content
    assert len(result.plan.chapters[0].pages[0].panels) == 4


def test_wrong_panel_count_twice_switches_layout_and_reports_it():
    result, _ = run([CAST, structure("grid-2x2"), panels(3), panels(3)])
    page = result.plan.chapters[0].pages[0]
    assert TEMPLATES[page.layout].panel_count == 3 and page.layout != "grid-2x2"
    assert [p.action for p in page.panels] == ["action 1", "action 2", "action 3"]
    assert any("switched to" in r and r.startswith("chapters[0].pages[0].layout") for r in result.repairs)


def test_unknown_speaker_is_mapped_by_name_or_dropped_and_reported():
    bad = {
        "panels": [
            panel(speaker="Bob", text="Boss!"),
            panel(speaker="Zed", text="Boo"),
            panel(characters=["Mara"]),
            panel(),
        ]
    }
    result, _ = run([CAST, structure("grid-2x2"), bad, bad])
    pans = result.plan.chapters[0].pages[0].panels
    assert pans[0].dialogue[0].character == "char-2" and "char-2" in pans[0].characters
    assert pans[1].dialogue == []
    assert pans[2].characters == ["char-1"]
    text = "\n".join(result.repairs)
    assert "mapped 'Bob' to 'char-2'" in text
    assert "unknown speaker 'Zed'" in text and "'Boo'" in text


def test_invalid_json_twice_fills_the_page_from_context():
    result, _ = run([CAST, structure("three-rows"), "not json {", "still not json"])
    page = result.plan.chapters[0].pages[0]
    assert len(page.panels) == 3
    assert all(p.action == "page 1 events" for p in page.panels)
    assert any("not JSON" in r for r in result.repairs)


def test_invalid_json_in_stage1_gives_a_default_hero():
    result, _ = run(["{oops", "{oops", structure("single"), panels(1)])
    assert [c.id for c in result.plan.characters] == ["char-1"]
    assert any(r.startswith("characters") for r in result.repairs)


def test_empty_fields_are_filled_from_context():
    bad = {"panels": [panel(action="", location=""), panel(text="")]}
    result, _ = run([CAST, structure("two-vertical"), bad, bad])
    p1, p2 = result.plan.chapters[0].pages[0].panels
    assert p1.action == "page 1 events" and p1.location == "unspecified place"
    assert p2.dialogue == []
    assert any(".action: empty" in r for r in result.repairs)


def test_max_pages_1_gives_one_chapter_one_page_at_most_four_panels():
    too_much = {"title": "T", "chapters": [{"title": "A", "pages": [{"summary": "x", "layout": "action"}] * 3}] * 2}
    result, llm = run([CAST, too_much, too_much], max_pages=1)
    plan = result.plan
    assert len(plan.chapters) == 1 and plan.page_count() == 1
    assert 1 <= len(plan.chapters[0].pages[0].panels) <= 4
    schema = llm.calls[1][1]
    assert schema["properties"]["chapters"]["maxItems"] == 1
    assert "action" not in schema["$defs"]["PageDraft"]["properties"]["layout"]["enum"]


def test_max_pages_3_gives_one_chapter_of_two_or_three_pages():
    result, llm = run([CAST, structure("single"), structure("single")], max_pages=3)
    plan = result.plan
    assert len(plan.chapters) == 1 and 2 <= plan.page_count() <= 3
    assert [p.page_number for _, p in plan.pages()] == list(range(1, plan.page_count() + 1))
    assert any("fewer than 2" in r for r in result.repairs)
    assert llm.calls[1][1]["properties"]["chapters"]["maxItems"] == 1


def test_max_pages_12_gives_two_to_four_chapters():
    one_chapter = structure(*["big-top"] * 12, chapters=1)
    result, llm = run([CAST, one_chapter, one_chapter], max_pages=12)
    plan = result.plan
    assert 2 <= len(plan.chapters) <= 4 and 6 <= plan.page_count() <= 12
    assert result.requests == 2 + plan.page_count()
    ids = [p.id for _, pg in plan.pages() for p in pg.panels]
    assert len(ids) == len(set(ids))
    chapters_schema = llm.calls[1][1]["properties"]["chapters"]
    assert (chapters_schema["minItems"], chapters_schema["maxItems"]) == (2, 4)


@pytest.mark.parametrize("max_pages", [1, 3, 12])
def test_schema_driven_answers_always_give_valid_plans(max_pages):
    for seed in range(3):
        llm = ScriptedLLM(seed=seed)
        result = plan_comic("idea", max_pages=max_pages, llm=llm, progress=False, seed=seed)
        assert plan_issues(result.plan) == []
        assert result.plan.page_count() <= max_pages


def test_language_and_seed_reach_the_requests():
    _, llm = run([CAST, structure("single"), panels(1)], language="uk", seed=7)
    assert "Ukrainian" in llm.calls[2][0][-1].content and "in English" in llm.calls[2][0][-1].content
    seeds = [opts.seed for _, _, opts in llm.calls]
    assert seeds == [8, 9, 18]
    assert all(opts.max_tokens >= 64 for _, _, opts in llm.calls)


def test_progress_callback_reports_each_stage_and_page():
    events = []
    llm = ScriptedLLM([CAST, structure("single", "single")])
    plan_comic("idea", max_pages=3, llm=llm, progress=False, on_progress=events.append)
    assert [e.stage for e in events] == ["characters", "structure", "panels", "panels", "done"]
    assert events[-2].done == events[-2].total == 4


def test_progress_bar_runs(capsys):
    """The bar on stderr counts the steps (characters, structure, one page) and ends full."""
    llm = ScriptedLLM([CAST, structure("single"), panels(1)])
    plan_comic("idea", max_pages=1, llm=llm, progress=True)
    err = capsys.readouterr().err
    assert "planning" in err
    assert "0/3" in err and "2 character(s)" in err, err
    assert "3/3" in err and "page 1/1 planned" in err, err


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="style"):
        plan_comic("idea", style="nope", llm=ScriptedLLM())
    with pytest.raises(ConfigError, match="max_pages"):
        plan_comic("idea", max_pages=21, llm=ScriptedLLM())
    with pytest.raises(ConfigError, match="empty"):
        plan_comic("  ", llm=ScriptedLLM())


def test_backend_failures_other_than_invalid_answers_pass_through():
    def boom(messages, schema):
        raise BackendError("scripted", "server down")

    with pytest.raises(BackendError, match="server down"):
        plan_comic("idea", llm=ScriptedLLM([boom]), progress=False)


def test_llm_by_registered_name():
    result = plan_comic("idea", max_pages=1, llm="scripted-planner", progress=False)
    assert plan_issues(result.plan) == []


def test_cli_plan_saves_and_prints_the_path(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="storybench")
    add_plan_command(parser.add_subparsers(dest="command"))
    argv = [
        "plan",
        "a ghost story",
        "--max-pages",
        "3",
        "--llm",
        "scripted-planner",
        "--plans-dir",
        str(tmp_path),
        "--no-progress",
    ]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    first = capsys.readouterr().out.strip()
    assert first.startswith(str(tmp_path)) and load_plan(first).page_count() >= 2
    assert args.func(parser.parse_args(argv)) == 0  # never overwrites
    second = capsys.readouterr().out.strip()
    assert second != first and second.endswith("-2.json")
    bad = parser.parse_args(["plan", "x", "--llm", "nope", "--plans-dir", str(tmp_path)])
    assert bad.func(bad) == 2
    assert "unknown LLM backend" in capsys.readouterr().err
    assert json.loads(Path(first).read_text(encoding="utf-8"))["chapters"]


def test_answer_cut_off_by_the_token_limit_keeps_its_complete_panels():
    import json as _json

    full = _json.dumps(panels(4))
    cut = full[: full.index("action 4") + 3]  # stops inside the 4th panel
    result, _ = run([CAST, structure("grid-2x2"), cut, cut])
    page = result.plan.chapters[0].pages[0]
    assert [p.action for p in page.panels] == ["action 1", "action 2", "action 3"]
    assert TEMPLATES[page.layout].panel_count == 3
