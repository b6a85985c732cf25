"""The story graph and its JSON format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storybench.story import Segment, Story, StoryFormatError, StorySettings, load_story


def small_story() -> Story:
    story = Story(settings=StorySettings(premise="Нічний потяг у нікуди", language="uk", style="watercolor"))
    a = story.add(Segment(id=story.new_segment_id(), text="Потяг рушив. Світло згасло.", choices=["Вийти", "Сидіти"]))
    b = story.add(
        Segment(
            id=story.new_segment_id(),
            parent_id=a.id,
            choice_index=0,
            choice_text="Вийти",
            text="Перон порожній.",
            choices=["Йти", "Чекати"],
        )
    )
    b2 = story.add(
        Segment(
            id=story.new_segment_id(),
            parent_id=a.id,
            choice_index=0,
            choice_text="Вийти",
            text="Перон повний людей.",
            choices=["Кричати", "Мовчати"],
        )
    )
    story.add(Segment(id=story.new_segment_id(), parent_id=b.id, choice_index=1, choice_text="Чекати", text="Ніч."))
    story.current_id = b2.id
    return story


def test_graph_navigation() -> None:
    story = small_story()
    assert [s.id for s in story.roots()] == ["s001"]
    assert [s.id for s in story.children("s001")] == ["s002", "s003"]
    assert [s.id for s in story.path("s004")] == ["s001", "s002", "s004"]
    assert story.depth("s004") == 2 and story.chapter("s004") == 1
    assert story.recent_choices("s004") == ["Вийти", "Чекати"]
    assert story.shown_child("s001", 0).id == "s003"  # on the current path
    story.current_id = "s004"
    assert story.shown_child("s001", 0).id == "s002"
    assert story.shown_child("s001", 1) is None
    assert [(d, s.id) for d, s in story.walk()] == [(0, "s001"), (1, "s002"), (2, "s004"), (1, "s003")]
    assert story.title == "Нічний потяг у нікуди"


def test_add_rejects_bad_links() -> None:
    story = small_story()
    with pytest.raises(ValueError, match="already used"):
        story.add(Segment(id="s001"))
    with pytest.raises(KeyError, match="no segment 'zzz'"):
        story.add(Segment(id="s010", parent_id="zzz", choice_index=0))
    with pytest.raises(ValueError, match="choice_index 5"):
        story.add(Segment(id="s010", parent_id="s001", choice_index=5))


def test_round_trip_and_versioned_format(tmp_path: Path) -> None:
    story = small_story()
    path = story.save(tmp_path / "a" / "story.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "storybench.story" and data["version"] == 1
    assert "Нічний" in path.read_text(encoding="utf-8")  # UTF-8 kept, not escaped
    loaded = load_story(path)
    assert loaded == story and loaded.next_number == story.next_number
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="other"), "format: expected"),
        (lambda d: d.update(version=99), "version: unsupported 99"),
        (lambda d: d["segments"]["s002"].update(parent_id="s999"), "segments.s002.parent_id: unknown segment"),
        (lambda d: d.update(current_id="nope"), "current_id: unknown"),
        (lambda d: d["segments"]["s002"].update(image_status="exploded"), "segments.s002.image_status"),
        (lambda d: d["settings"].update(style="baroque"), "settings.style"),
    ],
)
def test_load_errors_name_the_place(tmp_path: Path, mutate, message: str) -> None:
    data = small_story().to_json_dict()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StoryFormatError, match=message) as info:
        load_story(path)
    assert str(path) in str(info.value)


def test_load_broken_json_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "storybench.story",\n  oops\n}', encoding="utf-8")
    with pytest.raises(StoryFormatError, match=r"line 3:"):
        load_story(path)


def test_ids_and_ifid_are_per_story() -> None:
    a, b = small_story(), small_story()
    assert a.id != b.id and a.ifid != b.ifid
    assert a.ifid == a.ifid.upper() and len(a.ifid) == 36
