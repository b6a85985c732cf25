import json
from pathlib import Path

import pytest
from plan_factory import plan_dict

from storybench.exceptions import PlanValidationError
from storybench.plan import load_plan, parse_plan, plan_issues, plan_json_schema, save_plan
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES

PLANS = sorted((Path(__file__).parents[2] / "plans").glob("*.json"))


def messages(exc: PlanValidationError) -> list[str]:
    return [str(i) for i in exc.issues]


def test_valid_plan_round_trips_camel_case(tmp_path):
    plan = parse_plan(plan_dict(("grid-2x2", "single")))
    path = save_plan(plan, tmp_path / "p.json")
    text = path.read_text(encoding="utf-8")
    assert '"pageNumber": 1' in text and "page_number" not in text
    again = load_plan(path)
    assert again == plan
    assert again.sha256() == plan.sha256()


def test_snake_case_is_accepted():
    data = plan_dict()
    page = data["chapters"][0]["pages"][0]
    page["page_number"] = page.pop("pageNumber")
    assert parse_plan(data).chapters[0].pages[0].page_number == 1


def test_seed_filled_when_absent_then_kept(tmp_path):
    data = plan_dict()
    plan = parse_plan(data)
    seeds = [c.seed for c in plan.characters]
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)
    assert seeds[0] != seeds[1]
    reloaded = load_plan(save_plan(plan, tmp_path / "p.json"))
    assert [c.seed for c in reloaded.characters] == seeds
    data["characters"][0]["seed"] = 42
    assert parse_plan(data).characters[0].seed == 42


def test_wrong_panel_count_names_path_and_expected_count():
    data = plan_dict(("single", "grid-2x2"))
    data["chapters"][0]["pages"][1]["panels"].pop()
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    assert "chapters[0].pages[1].panels: layout 'grid-2x2' needs 4 panels, got 3" in messages(err.value)


def test_positions_must_run_without_gaps():
    data = plan_dict()
    data["chapters"][0]["pages"][0]["panels"][3]["position"] = 7
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    assert any(m.startswith("chapters[0].pages[0].panels: positions must be 1..4") for m in messages(err.value))


def test_unknown_characters_and_speakers():
    data = plan_dict()
    panel = data["chapters"][0]["pages"][0]["panels"][0]
    panel["characters"].append("char-9")
    panel["dialogue"].append({"character": "ghost", "text": "Boo"})
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    msgs = messages(err.value)
    assert "chapters[0].pages[0].panels[0].characters[2]: unknown character 'char-9'" in msgs
    assert "chapters[0].pages[0].panels[0].dialogue[1].character: unknown speaker 'ghost'" in msgs


def test_duplicate_ids_and_page_numbers():
    data = plan_dict(("single", "single"))
    pages = data["chapters"][0]["pages"]
    pages[1]["panels"][0]["id"] = pages[0]["panels"][0]["id"]
    pages[1]["pageNumber"] = 3
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    msgs = messages(err.value)
    assert "chapters[0].pages[1].panels[0].id: id 'p1-k1' is already used at chapters[0].pages[0].panels[0].id" in msgs
    assert "chapters[0].pages[1].pageNumber: page numbers must be consecutive: expected 2, got 3" in msgs


def test_page_limits():
    with pytest.raises(PlanValidationError, match="1 to 20 pages, got 21"):
        parse_plan(plan_dict(("single",) * 21))
    data = plan_dict()
    data["chapters"][0]["pages"] = []
    with pytest.raises(PlanValidationError, match="1 to 20 pages, got 0"):
        parse_plan(data)


@pytest.mark.parametrize("bad", ["../etc", "a/b", "x\x00y", "", "-lead", "a..b"])
def test_ids_unsafe_for_file_names_are_rejected(bad):
    data = plan_dict()
    data["chapters"][0]["pages"][0]["panels"][0]["id"] = bad
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    assert any(
        m.startswith("chapters[0].pages[0].panels[0].id: id ") and "not usable in file names" in m
        for m in messages(err.value)
    )


def test_structural_errors_carry_json_paths():
    data = plan_dict()
    data["chapters"][0]["pages"][0]["layout"] = "grid-3x3"
    data["language"] = "english please"
    del data["chapters"][0]["pages"][0]["panels"][1]["action"]
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    msgs = messages(err.value)
    assert any(m.startswith("chapters[0].pages[0].layout: Input should be 'single'") for m in msgs)
    assert any(m.startswith("language: language 'english please' is not a BCP-47 code") for m in msgs)
    assert "chapters[0].pages[0].panels[1].action: Field required" in msgs


def test_bad_json_reports_file_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "id": "x",\n  "title": oops\n}\n', encoding="utf-8")
    with pytest.raises(PlanValidationError) as err:
        load_plan(path)
    assert messages(err.value)[0].startswith(f"{path}:3:12: not valid JSON")


def test_unknown_style():
    with pytest.raises(PlanValidationError, match="style: unknown style 'vaporwave'"):
        parse_plan(plan_dict(style="vaporwave"))


def test_editor_can_hold_an_invalid_plan_and_list_issues():
    plan = parse_plan(plan_dict())
    plan.chapters[0].pages[0].layout = "single"
    assert [str(i) for i in plan_issues(plan)] == ["chapters[0].pages[0].panels: layout 'single' needs 1 panels, got 4"]


def test_json_schema_uses_camel_case_and_lists_layouts():
    schema = plan_json_schema()
    text = json.dumps(schema)
    assert "pageNumber" in text and "page_number" not in text
    assert set(TEMPLATE_IDS) <= set(schema["$defs"]["Page"]["properties"]["layout"]["enum"])


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.name)
def test_example_plans_are_valid(path):
    plan = load_plan(path)
    assert plan_issues(plan) == []


def test_example_plans_cover_every_layout_and_lettering_kind():
    plans = [load_plan(p) for p in PLANS]
    layouts = {page.layout for plan in plans for _, page in plan.pages()}
    assert layouts == set(TEMPLATES)
    styles = {plan.style for plan in plans}
    assert {"noir", "manga", "american-classic"} <= styles
    panels = [panel for plan in plans for _, page in plan.pages() for panel in page.panels]
    assert any(p.narrative for p in panels) and any(p.sfx for p in panels)
    assert any(len({d.character for d in p.dialogue}) >= 2 for p in panels)
    assert any(plan.language == "uk" for plan in plans)
