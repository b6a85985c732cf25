"""Hostile plans: seed 002's format loads, text rules, bounded errors, limits, and the fuzz test."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from plan_fuzz import run_cases

from storybench.exceptions import PlanValidationError
from storybench.plan import load_plan, load_plan_with_notes, parse_plan, parse_plan_with_notes, plan_id_from_title
from storybench.plan.guard import MAX_DEPTH

DATA = Path(__file__).parents[1] / "data"
KITSUMY = DATA / "kitsumy_plan.json"


def kitsumy() -> dict:
    return json.loads(KITSUMY.read_text(encoding="utf-8"))


def messages(exc: PlanValidationError) -> list[str]:
    return [str(issue) for issue in exc.issues]


# -- seed 002's own format -----------------------------------------------------------
def test_a_plan_in_seed_002_format_loads_with_id_language_and_seeds_filled_in():
    plan, filled = load_plan_with_notes(KITSUMY)
    assert plan.id.startswith("soldat-povertaietsia-dodomu-") and len(plan.id.rsplit("-", 1)[1]) == 6
    assert plan.language == "uk"
    assert all(isinstance(c.seed, int) for c in plan.characters)
    paths = [f.path for f in filled]
    assert paths == ["id", "language", "characters[0].seed", "characters[1].seed"]
    assert "'uk'" in str(filled[1]) and "seed 002" in str(filled[1])
    # the same title always gives the same id (reruns resume), and the seeds follow it
    again, _ = load_plan_with_notes(KITSUMY)
    assert again.id == plan.id and [c.seed for c in again.characters] == [c.seed for c in plan.characters]


def test_given_values_are_kept_and_not_reported(monkeypatch):
    data = kitsumy()
    data.update(id="my-comic", language="en")
    data["characters"][0]["seed"] = 7
    plan, filled = parse_plan_with_notes(data)
    assert (plan.id, plan.language, plan.characters[0].seed) == ("my-comic", "en", 7)
    assert [f.path for f in filled] == ["characters[1].seed"]
    monkeypatch.setenv("STORYBENCH_DEFAULT_LANGUAGE", "pl")
    assert parse_plan(kitsumy()).language == "pl"


def test_derived_ids_avoid_collisions_between_titles_with_the_same_slug():
    ids = {plan_id_from_title(t) for t in ["Kot!", "Kot?", "kot", "KOT", "Кот", "🐈", "🐕", ""]}
    assert len(ids) == 8
    assert plan_id_from_title("🐈").startswith("plan-")
    for ident in ids:
        data = kitsumy()
        data["id"] = ident
        parse_plan(data)  # every derived id is a valid plan id


# -- text fields ---------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["\r", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\x7f", "\ud800"])
def test_control_characters_in_names_and_titles_are_refused_with_the_path(bad):
    data = kitsumy()
    data["characters"][0]["name"] = f"Ma{bad}rko"
    data["title"] = f"Ti{bad}tle"  # (at either end it is stripped like other whitespace)
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    msgs = messages(info.value)
    # pydantic itself refuses a lone surrogate ("unable to parse raw data as a unicode string")
    what = "" if bad == "\ud800" else "contains the control character U+"
    assert any(m.startswith(f"characters[0].name: {what}") for m in msgs)
    assert any(m.startswith(f"title: {what}") for m in msgs)
    assert all(bad not in m for m in msgs)  # named by code point, never echoed raw


def test_line_breaks_in_dialogue_are_normalised_and_tabs_become_spaces():
    data = kitsumy()
    data["chapters"][0]["pages"][0]["panels"][1]["dialogue"][0]["text"] = "a\r\nb\rc\x85d\u2028e\u2029f\tg"
    data["characters"][0]["name"] = "Mar\tko"
    plan = parse_plan(data)
    assert plan.chapters[0].pages[0].panels[1].dialogue[0].text == "a\nb\nc\nd\ne\nf g"
    assert plan.characters[0].name == "Mar ko"


@pytest.mark.parametrize(
    "ident", ["con", "NUL", "Aux", "prn", "COM1", "lpt9", "nul.txt", "com3.json", "page.", "page "]
)
def test_ids_windows_cannot_use_are_refused(ident):
    data = kitsumy()
    data["chapters"][0]["id"] = ident
    if ident.strip() == ident:
        with pytest.raises(PlanValidationError) as info:
            parse_plan(data)
        assert messages(info.value)[0].startswith("chapters[0].id: id ")
    data = kitsumy()
    data["chapters"][0]["pages"][0]["panels"][0]["id"] = ident.rstrip() + "."
    with pytest.raises(PlanValidationError):
        parse_plan(data)


def test_a_plan_id_that_is_a_device_name_is_refused():
    data = kitsumy()
    data["id"] = "con"
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    assert "Windows reserves" in messages(info.value)[0]


# -- bounded errors and limits -----------------------------------------------------------
def test_error_messages_quote_at_most_80_characters_and_give_the_length():
    data = kitsumy()
    data["style"] = "z" * 3000
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    (msg,) = messages(info.value)
    assert "3,000 characters" in msg and len(msg) < 400


def test_integers_over_4300_digits_are_reported_not_crashed_on():
    data = kitsumy()
    data["characters"][0]["seed"] = 10**5000
    data["chapters"][0]["pages"][0]["pageNumber"] = -(10**4400)
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    msgs = messages(info.value)
    assert any(m.startswith("characters[0].seed: an integer of 5,001 digits") for m in msgs)
    assert any(m.startswith("chapters[0].pages[0].pageNumber: an integer of 4,401 digits") for m in msgs)


def test_a_file_with_a_5000_digit_number_names_the_position(tmp_path):
    text = KITSUMY.read_text(encoding="utf-8").replace('"pageNumber": 1', '"pageNumber": ' + "9" * 5000)
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    (issue,) = info.value.issues
    assert issue.path.startswith(f"{path}:") and "a number of 5,000 digits" in issue.message


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deep_json_nesting_is_a_clear_error_not_a_recursion_error(tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_text('{"title": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    assert f"JSON nested deeper than {MAX_DEPTH} levels" in str(info.value)
    nested: object = []
    for _ in range(depth):
        nested = [nested]
    with pytest.raises(PlanValidationError) as info:
        parse_plan({"title": "x", "chapters": nested})
    assert f"nested deeper than {MAX_DEPTH} levels" in str(info.value)


def test_an_oversized_plan_file_is_refused_quickly_from_its_size(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:  # 50 MB, sparse: never read
        fh.truncate(50 * 1024 * 1024)
    t0 = time.perf_counter()
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    assert time.perf_counter() - t0 < 1.0
    text = str(info.value)
    assert "52,428,800 bytes, over the limit of 4,194,304 bytes" in text and len(text) < 500
    monkeypatch.setenv("STORYBENCH_MAX_PLAN_BYTES", "2048")
    with pytest.raises(PlanValidationError, match="over the limit of 2,048 bytes"):
        load_plan(KITSUMY)


def test_one_big_string_shared_by_many_panels_is_refused_without_copying_it():
    data = kitsumy()
    big = "w" * 1_000_000
    panel = data["chapters"][0]["pages"][0]["panels"][0]
    data["chapters"][0]["pages"][0]["panels"] = [dict(panel, action=big) for _ in range(1000)]
    t0 = time.perf_counter()
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    assert time.perf_counter() - t0 < 2.0
    assert "over the limit" in str(info.value) and len(str(info.value)) < 1000


def test_many_problems_list_50_and_count_the_rest():
    data = kitsumy()
    panel = data["chapters"][0]["pages"][0]["panels"][0]
    data["chapters"][0]["pages"][0]["panels"] = [dict(panel, id=f"x{i}", characters=["ghost"]) for i in range(300)]
    with pytest.raises(PlanValidationError) as info:
        parse_plan(data)
    text = str(info.value)
    # 302 problems (panel count, positions, 300 unknown characters): 200 listed, the rest counted
    assert len(info.value.issues) == 201 and "... and " in text and text.count("\n") <= 52
    assert info.value.issues[-1].message == "... and 102 more problem(s) not listed"


def test_non_utf8_files_name_the_byte_and_offset(tmp_path):
    raw = KITSUMY.read_bytes()
    at = raw.index("Марко".encode())
    path = tmp_path / "cp1251.json"
    path.write_bytes(raw[:at] + "Марко".encode("cp1251") + raw[at + len("Марко".encode()) :])
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    (issue,) = info.value.issues
    assert f"byte 0x{'Марко'.encode('cp1251')[0]:02x} at byte offset {at}" in issue.message
    utf16 = tmp_path / "utf16.json"
    utf16.write_bytes(KITSUMY.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(PlanValidationError, match="UTF-16 text; plans are UTF-8"):
        load_plan(utf16)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + raw)
    assert load_plan(bom).language == "uk"  # a UTF-8 byte order mark is harmless


# -- fuzz --------------------------------------------------------------------------------
@pytest.mark.slow
def test_fuzz_every_outcome_is_a_plan_or_a_clean_error(tmp_path):
    report = run_cases(0, 1000, tmp_path)
    print(report.summary())  # more cases: python bench/bench_fuzz.py
    assert report.outcomes["other"] == 0, "\n".join(report.others[:20])
    assert report.cases == 2000 and report.outcomes["valid"] > 100 and report.outcomes["clean"] > 1000
    assert report.slowest < 5.0 and report.peak_bytes < 256 * 1024 * 1024


def test_fuzz_cases_are_reproducible():
    from plan_fuzz import mutated_case

    assert mutated_case(42)[1] == mutated_case(42)[1]
    first = copy.deepcopy(mutated_case(7)[0])
    assert json.dumps(first, default=str) == json.dumps(mutated_case(7)[0], default=str)
