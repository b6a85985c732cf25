"""Round trips on files made by SillyTavern (tests/data/sillytavern, see its README), and the CLI on them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from storybench.cli import main
from storybench.world import load_world_file, save_card_png, save_sillytavern
from storybench.world.png_chunks import read_text_chunks
from storybench.world.sillytavern import world_to_sillytavern

DATA = Path(__file__).resolve().parents[1] / "data" / "sillytavern"
CARD = DATA / "default_Seraphina.png"
WORLD = DATA / "Eldoria.json"


def card_json(path: Path) -> dict:
    return json.loads(base64.b64decode(read_text_chunks(path.read_bytes(), str(path))["chara"]))


def test_sillytavern_world_round_trip(tmp_path, contains):
    imported = load_world_file(WORLD)
    assert imported.kind == "sillytavern" and imported.world.name == "Eldoria"
    assert [e.keys[0] for e in imported.world.entries] == ["eldoria", "shadowfang", "glade", "power"]
    original = json.loads(WORLD.read_text(encoding="utf-8"))
    contains(world_to_sillytavern(imported.world), original)
    out = save_sillytavern(imported.world, tmp_path / "Eldoria.json")
    again = load_world_file(out)
    assert again.world == imported.world


def test_sillytavern_card_png_round_trip(tmp_path, contains):
    imported = load_world_file(CARD)
    assert imported.kind == "card_png"
    character = imported.character
    assert character is not None and character.name == "Seraphina"
    assert character.first_message.startswith("*You wake with a start")
    assert "pink hair" in character.description and character.creator == "OtisAlejandro"
    assert imported.world.name == "Eldoria" and len(imported.world.entries) == 4
    assert imported.world.entries[1].keys == ["shadowfang", "beast", "monster", "monsters", "beasts"]

    out = save_card_png(character, imported.world, imported.original, tmp_path / "card.png")
    contains(card_json(out), card_json(CARD))
    again = load_world_file(out)
    assert again.character == character and again.world == imported.world
    # the image is copied byte for byte: only the card chunk changed
    assert CARD.read_bytes()[:33] == out.read_bytes()[:33]
    assert CARD.read_bytes().split(b"IDAT", 1)[1][:200_000] == out.read_bytes().split(b"IDAT", 1)[1][:200_000]


def test_card_book_and_world_file_hold_the_same_lore():
    book = load_world_file(CARD).world
    world = load_world_file(WORLD).world
    assert [(e.keys, e.content, e.order, e.position) for e in book.entries] == [
        (e.keys, e.content, e.order, e.position) for e in world.entries
    ]


def test_cli_import_show_and_match(tmp_path, capsys):
    target = tmp_path / "world.json"
    assert main(["world", "import", str(CARD), "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert "card_png: Eldoria, 4 entries" in out and "character: Seraphina" in out
    assert "keys: shadowfang, beast, monster, monsters, beasts" in out
    saved = load_world_file(target)
    assert saved.kind == "storybench" and saved.world.characters[0].name == "Seraphina"
    assert main(["world", "import", str(target), "-o", str(tmp_path / "again.json")]) == 0
    assert load_world_file(tmp_path / "again.json").world == saved.world

    assert main(["world", "show", str(WORLD)]) == 0
    shown = capsys.readouterr().out
    assert "sillytavern: Eldoria, 4 entries" in shown and "1,551 chars" in shown

    assert main(["world", "match", str(WORLD), "--text", "Beasts prowled the glade."]) == 0
    lines = capsys.readouterr().out.splitlines()
    # insertion order (all have order 100: by uid); the others fire through recursion
    assert lines == [
        "#0\teldoria\tkey 'eldoria' in entry 'glade'",
        "#1\tshadowfang\tkey 'beast'",
        "#2\tglade\tkey 'glade'",
        "#3\tpower\tkey 'power' in entry 'shadowfang'",
    ]


@pytest.mark.parametrize("fmt", ["sillytavern"])
def test_cli_import_to_sillytavern(tmp_path, fmt, capsys):
    target = tmp_path / "out.json"
    assert main(["world", "import", str(CARD), "-o", str(target), "--format", fmt]) == 0
    assert load_world_file(target).world.entries == load_world_file(CARD).world.entries


def test_cli_bad_input_is_one_sentence_and_writes_nothing(tmp_path, capsys):
    plain = tmp_path / "plain.png"
    plain.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\0IEND\xaeB`\x82")
    target = tmp_path / "world.json"
    assert main(["world", "import", str(plain), "-o", str(target)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this PNG holds no character card" in err[0] and str(plain) in err[0]
    assert not target.exists()


def test_cli_match_reports_a_catastrophic_regex(tmp_path, capsys):
    world = tmp_path / "w.json"
    entries = {"0": {"uid": 0, "key": ["/(a|aa)+$/"], "content": "x"}, "1": {"uid": 1, "key": ["aaa"], "content": "y"}}
    world.write_text(json.dumps({"entries": entries}), encoding="utf-8")
    assert main(["world", "match", str(world), "--text", "a" * 40 + "!"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "#1\taaa\tkey 'aaa'"
    assert lines[1].startswith("warning: entry '/(a|aa)+$/' (uid 0): key /(a|aa)+$/ took longer than 50 ms")
