"""Character cards V2/V3 (JSON, PNG, CharX) with their books, and bad input: one sentence, nothing imported."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from storybench.world import (
    Character,
    Position,
    SelectiveLogic,
    WorldFormatError,
    WorldTooLargeError,
    load_world_file,
    parse_world_bytes,
    save_card_png,
    save_charx,
)
from storybench.world.importing import card_json_bytes
from storybench.world.png_chunks import read_text_chunks, write_text_chunks


def st_book_entry(uid: int, keys: list[str], content: str, **extensions) -> dict:
    """A book entry as SillyTavern writes it (``convertWorldInfoToCharacterBook``)."""
    ext = {
        "position": 0,
        "exclude_recursion": False,
        "display_index": uid,
        "probability": 100,
        "useProbability": True,
        "depth": 4,
        "selectiveLogic": 0,
        "group": "",
        "group_override": False,
        "group_weight": 100,
        "prevent_recursion": False,
        "delay_until_recursion": False,
        "scan_depth": None,
        "match_whole_words": None,
        "use_group_scoring": False,
        "case_sensitive": None,
        "automation_id": "",
        "role": 0,
        "vectorized": False,
        "sticky": 0,
        "cooldown": 0,
        "delay": 0,
    }
    ext.update(extensions)
    return {
        "id": uid,
        "keys": keys,
        "secondary_keys": [],
        "comment": keys[0],
        "content": content,
        "constant": False,
        "selective": True,
        "insertion_order": 100,
        "enabled": True,
        "position": "before_char" if ext["position"] == 0 else "after_char",
        "use_regex": True,
        "extensions": ext,
    }


def v2_card() -> dict:
    data = {
        "name": "Мирослава",
        "description": "Травниця з сірими очима, у зеленому плащі.",
        "personality": "уважна, вперта",
        "scenario": "Осінь у Карпатах.",
        "first_mes": "— Знову ти? Заходь, поки дощ.",
        "mes_example": "<START>\n{{user}}: Привіт\n{{char}}: Привіт.",
        "creator_notes": "test card",
        "system_prompt": "",
        "post_history_instructions": "",
        "tags": ["fantasy"],
        "creator": "storybench tests",
        "character_version": "1",
        "alternate_greetings": ["— Хто там?"],
        "extensions": {"talkativeness": "0.5", "fav": False, "world": "Карпати", "depth_prompt": {"depth": 4}},
        "character_book": {
            "entries": [
                st_book_entry(0, ["Говерла", "/гор[аи]/i"], "Найвища гора, де живуть мольфари."),
                st_book_entry(1, ["мольфар"], "Мольфари знають погоду.", position=4, depth=2, selectiveLogic=2),
            ],
            "name": "Карпати",
        },
    }
    top = {k: data[k] for k in ("name", "description", "personality", "scenario", "first_mes", "mes_example")}
    return {
        **top,
        "avatar": "none",
        "talkativeness": "0.5",
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": data,
    }


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, format="PNG")
    return out.getvalue()


def card_png(card: dict, keyword: str = "chara") -> bytes:
    encoded = base64.b64encode(json.dumps(card, ensure_ascii=False).encode()).decode()
    return write_text_chunks(png_bytes(), {keyword: encoded})


def test_v2_card_json_becomes_a_character_and_a_world(tmp_path, contains):
    path = tmp_path / "card.json"
    path.write_text(json.dumps(v2_card(), ensure_ascii=False), encoding="utf-8")
    imported = load_world_file(path)
    c = imported.character
    assert imported.kind == "card_json" and c is not None
    assert (c.name, c.first_message, c.alternate_openings) == (
        "Мирослава",
        "— Знову ти? Заходь, поки дощ.",
        ["— Хто там?"],
    )
    assert c.example_dialogue.startswith("<START>") and c.scenario == "Осінь у Карпатах."
    first, second = imported.world.entries
    assert first.keys == ["Говерла", "/гор[аи]/i"] and first.extensions["display_index"] == 0
    assert (
        second.position == Position.AT_DEPTH and second.depth == 2 and second.selective_logic == SelectiveLogic.NOT_ANY
    )
    assert imported.world.name == "Карпати"
    story = imported.story_world()
    assert story.characters == [c]
    contains(json.loads(card_json_bytes(c, imported.world)), v2_card())


def test_v2_png_round_trip_and_edits_reach_the_card(tmp_path):
    imported = parse_world_bytes(card_png(v2_card()), "card.png")
    character = imported.character.model_copy(update={"description": "Тепер у червоному плащі."})
    out = save_card_png(character, imported.world, imported.original, tmp_path / "out.png")
    card = json.loads(base64.b64decode(read_text_chunks(out.read_bytes(), "")["chara"]))
    assert card["data"]["description"] == card["description"] == "Тепер у червоному плащі."
    assert card["data"]["extensions"]["depth_prompt"] == {"depth": 4}
    again = load_world_file(out)
    assert again.character == character and again.world == imported.world
    Image.open(out).verify()  # still a valid PNG


def v3_card() -> dict:
    card = v2_card()
    data = dict(card["data"], nickname="Мира", group_only_greetings=[], creation_date=1700000000, assets=[])
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def test_v3_png_prefers_ccv3_and_writes_both(tmp_path, contains):
    v3 = v3_card()
    data = write_text_chunks(card_png(v2_card()), {"ccv3": base64.b64encode(json.dumps(v3).encode()).decode()})
    imported = parse_world_bytes(data, "v3.png")
    assert imported.character.card["spec"] == "chara_card_v3"
    assert imported.character.card["data"]["nickname"] == "Мира"
    out = save_card_png(imported.character, imported.world, imported.original, tmp_path / "v3.png")
    chunks = read_text_chunks(out.read_bytes(), "")
    assert set(chunks) >= {"chara", "ccv3"}
    contains(json.loads(base64.b64decode(chunks["ccv3"])), v3)


def test_charx_round_trip_keeps_assets(tmp_path, contains):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("card.json", json.dumps(v3_card()))
        archive.writestr("assets/icon/main.png", png_bytes())
    path = tmp_path / "card.charx"
    path.write_bytes(buffer.getvalue())
    imported = load_world_file(path)
    assert imported.kind == "charx" and imported.character.name == "Мирослава" and len(imported.world.entries) == 2
    out = save_charx(imported.character, imported.world, imported.original, tmp_path / "out.charx")
    with zipfile.ZipFile(out) as archive:
        assert archive.read("assets/icon/main.png") == png_bytes()
        contains(json.loads(archive.read("card.json")), v3_card())
    assert load_world_file(out).world == imported.world


def test_a_character_made_in_storybench_exports_as_a_v2_card(tmp_path):
    character = Character(name="Nova", description="a pilot in a silver suit", first_message="Engines on.")
    out = save_card_png(character, None, png_bytes(), tmp_path / "nova.png")
    again = load_world_file(out)
    assert again.character.name == "Nova" and again.character.card["spec"] == "chara_card_v2"
    assert again.world.entries == []


def broken_inputs(tmp_path: Path) -> list[tuple[str, bytes, type, str]]:
    book = {"entries": {str(i): {"uid": i, "key": ["k"], "content": "x" * 1000} for i in range(11_000)}}
    bad_key = {"entries": {"0": {"uid": 0, "key": ["a"], "order": "first"}}}
    return [
        ("plain.png", png_bytes(), WorldFormatError, "this PNG holds no character card"),
        ("b64.png", write_text_chunks(png_bytes(), {"chara": "not base64!!"}), WorldFormatError, "base64 is broken"),
        ("json.png", card_png({"spec": "chara_card_v2"}), WorldFormatError, "needs a data object"),
        (
            "brokenjson.png",
            write_text_chunks(png_bytes(), {"chara": base64.b64encode(b'{"spec": ').decode()}),
            WorldFormatError,
            "broken JSON",
        ),
        ("novelai.json", json.dumps({"lorebookVersion": 5, "entries": []}).encode(), WorldFormatError, "NovelAI"),
        ("other.json", b'{"memories": []}', WorldFormatError, "not a world file storybench reads"),
        ("broken.json", b'{"entries": {', WorldFormatError, "broken JSON"),
        ("big.json", json.dumps(book).encode(), WorldTooLargeError, "byte limit"),
        ("badfield.json", json.dumps(bad_key).encode(), WorldFormatError, "entries.0.order"),
        ("nozip.charx", b"PK\x03\x04broken", WorldFormatError, "not a readable zip"),
    ]


def test_bad_input_is_one_sentence_naming_where(tmp_path):
    for name, data, error, words in broken_inputs(tmp_path):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(error) as info:
            load_world_file(path)
        message = str(info.value)
        assert words in message, (name, message)
        assert message.startswith(str(path)), (name, message)
        assert "\n" not in message and message.count(". ") == 0, message
    assert len(json.dumps(broken_inputs(tmp_path)[7][1].decode())) > 10 * 1024 * 1024
