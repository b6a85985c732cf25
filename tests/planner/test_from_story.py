"""A story path becomes a plan (issue 20, must-show 1): ``plan_from_story`` and
``storybench plan --from-story``; the plan validates, its characters are the story's,
every page's source segments lie on the chosen path, and ``storybench render`` completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storybench.cli import main
from storybench.exceptions import ConfigError
from storybench.llm.base import register_llm_backend
from storybench.plan.loading import load_plan
from storybench.plan.models import plan_issues
from storybench.planner.from_story import StoryCharacter, plan_from_story
from storybench.planner.story_text import group_pages, quotes, speaker
from storybench.story.model import Segment, Story, StorySettings

try:
    from scripted_llm import ScriptedLLM
except ImportError:  # tests/ imported as a package
    from tests.scripted_llm import ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]
#: stage 1's answer: the story's three characters plus one the prose never names
CAST = {
    "characters": [
        {
            "name": "Mara",
            "appearance": "young woman, red scarf, short black hair",
            "clothing": "grey coat",
            "role": "hero",
        },
        {"name": "Otto", "appearance": "old sailor, white beard", "clothing": "navy sweater", "role": "mentor"},
        {"name": "Vex", "appearance": "tall thief, green eyes", "clothing": "black hood", "role": "villain"},
        {"name": "Zed", "appearance": "a robot", "clothing": "", "role": "extra"},
    ]
}


def build_story() -> Story:
    """s1 → s2 → (s3a → s4a | s3b): two branches; quotes in «», “”, "" and „“."""
    story = Story(
        id="harbour", settings=StorySettings(premise="A harbour heist at night", style="noir", title="Harbour")
    )
    segs = [
        Segment(id="s1", text="Mara met Otto at the pier. «The tide turns at midnight,» Otto said."),
        Segment(id="s2", parent_id="s1", choice_index=0, text="Mara nodded. “Then we go at eleven,” Mara whispered."),
        Segment(id="s3a", parent_id="s2", choice_index=0, text='Vex stepped out of the fog. "You are late," said Vex.'),
        Segment(id="s4a", parent_id="s3a", choice_index=0, text="Otto raised his lamp. „Run, Mara!“ shouted Otto."),
        Segment(id="s3b", parent_id="s2", choice_index=1, text="Mara waited alone. «Nobody came,» she thought."),
    ]
    for seg in segs:
        story.segments[seg.id] = seg
    story.current_id = "s4a"
    return story


def test_quotes_in_every_mark_and_their_speakers() -> None:
    text = 'Anna came in. «Hi,» said Anna. Boris shrugged: “Late again.” And "ok". „Ja“, sagte Boris.'
    found = quotes(text)
    assert [q.text for q in found] == ["Hi,", "Late again.", "ok", "Ja"]
    names = [("a", "Anna"), ("b", "Boris")]
    assert speaker(text, found[0], names) == "a"
    assert speaker(text, found[1], names, found[0]) == "b"
    assert speaker(text, found[3], names, found[2]) == "b"
    assert speaker("«Привіт», — сказав він Анні.", quotes("«Привіт», — сказав він Анні.")[0], [("a", "Анна")]) == "a"
    assert [list(r) for r in group_pages(5, 2)] == [[0, 1], [2, 3, 4]]
    assert [list(r) for r in group_pages(2, 5)] == [[0], [1]]


def test_a_path_becomes_a_valid_plan_with_the_storys_characters_and_speech() -> None:
    story = build_story()
    result = plan_from_story(story, "s4a", max_pages=2, llm=ScriptedLLM([CAST], seed=3))
    plan = result.plan
    assert plan_issues(plan) == []
    assert [c.name for c in plan.characters] == ["Mara", "Otto", "Vex"]  # Zed is not in the prose
    assert any("Zed" in note for note in result.repairs)
    path_ids = {"s1", "s2", "s3a", "s4a"}
    sources = [p.source_segments for _, p in plan.pages()]
    assert sources == [["s1", "s2"], ["s3a", "s4a"]]
    assert all(set(s) <= path_ids for s in sources) and all("s3b" not in s for s in sources)
    ids = {c.name: c.id for c in plan.characters}
    lines = [(d.character, d.text) for _, p in plan.pages() for panel in p.panels for d in panel.dialogue]
    assert lines == [
        (ids["Otto"], "The tide turns at midnight,"),
        (ids["Mara"], "Then we go at eleven,"),
        (ids["Vex"], "You are late,"),
        (ids["Otto"], "Run, Mara!"),
    ]
    for _, page in plan.pages():  # every speaker is in their panel
        for panel in page.panels:
            assert {d.character for d in panel.dialogue} <= set(panel.characters)
    assert '"sourceSegments"' in plan.to_json()


def test_given_characters_and_the_other_branch() -> None:
    cast = [StoryCharacter("Mara", "young woman, red scarf"), StoryCharacter("Otto", "old sailor")]
    plan = plan_from_story(build_story(), "s3b", max_pages=5, llm=ScriptedLLM(seed=1), characters=cast).plan
    assert [c.name for c in plan.characters] == ["Mara", "Otto"]
    assert [p.source_segments for _, p in plan.pages()] == [["s1"], ["s2"], ["s3b"]]


def test_bad_requests_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no segment 'nope'"):
        plan_from_story(build_story(), "nope", llm=ScriptedLLM())
    with pytest.raises(ConfigError, match="max_pages"):
        plan_from_story(build_story(), max_pages=0, llm=ScriptedLLM())


def test_cli_from_story_then_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    register_llm_backend("story-cast-test", lambda **kw: ScriptedLLM([CAST], seed=5, **kw))
    story_file = tmp_path / "story.json"
    build_story().save(story_file)
    out = tmp_path / "plan.json"
    code = main(
        [
            "plan",
            "--from-story",
            str(story_file),
            "--segment",
            "s3a",
            "--max-pages",
            "3",
            "--llm",
            "story-cast-test",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    plan = load_plan(out)
    assert [c.name for c in plan.characters] == ["Mara", "Otto", "Vex"]
    assert [p.source_segments for _, p in plan.pages()] == [["s1"], ["s2"], ["s3a"]]
    assert main(["plan", "--no-progress"]) == 2  # neither an idea nor a story

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    size = ["-p", "page_width", "600", "-p", "page_height", "900", "-p", "panel_max_side", "256", "-p", "dpi", "72"]
    render = subprocess.run(
        [
            sys.executable,
            "-m",
            "storybench",
            "render",
            str(out),
            "--backend",
            "storyboard",
            "--output-dir",
            str(tmp_path / "out"),
            *size,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert render.returncode == 0, render.stderr[-2000:]
    run_dirs = [p for p in (tmp_path / "out").rglob("catalog.*")]
    assert run_dirs, render.stdout
    assert json.loads(out.read_text())["chapters"][0]["pages"][0]["sourceSegments"] == ["s1"]


def test_world_characters_named_on_the_path_are_the_cast(tmp_path: Path) -> None:
    from storybench.world.importing import save_world
    from storybench.world.model import Character as WorldCharacter
    from storybench.world.model import World

    world = World(
        name="harbour",
        characters=[
            WorldCharacter(name="Vex", description="tall thief in a black hood, green eyes"),
            WorldCharacter(name="Mara", description="young woman with a red scarf"),
            WorldCharacter(name="Ilse", description="a harbour master who never appears here"),
        ],
    )
    llm = ScriptedLLM(seed=2)
    plan = plan_from_story(build_story(), "s3a", max_pages=3, llm=llm, world=world).plan
    assert [(c.name, c.appearance) for c in plan.characters] == [
        ("Vex", "tall thief in a black hood, green eyes"),
        ("Mara", "young woman with a red scarf"),
    ]
    assert len(llm.calls) == 3  # no characters stage: one panels request per page
    path = tmp_path / "world.json"
    save_world(world, path)
    story_file = tmp_path / "story.json"
    build_story().save(story_file)
    register_llm_backend("story-world-test", lambda **kw: ScriptedLLM(seed=4, **kw))
    out = tmp_path / "plan.json"
    args = ["plan", "--from-story", str(story_file), "--world", str(path), "--llm", "story-world-test"]
    assert main([*args, "--no-progress", "-o", str(out)]) == 0
    assert [c.name for c in load_plan(out).characters] == ["Vex", "Mara"]
