"""plan_comic offers the world's characters and places to stages 1 and 2 (issue 19)."""

from __future__ import annotations

from scripted_llm import ScriptedLLM
from test_planner import CAST, panels, structure

from storybench.plan import plan_issues
from storybench.planner import plan_comic
from storybench.planner.world_brief import world_brief
from storybench.world.model import Character, World, WorldEntry

WORLD = World(
    entries=[
        WorldEntry(uid=0, keys=["Podil"], comment="Podil", content="Podil is the old harbour quarter, wet cobbles."),
        WorldEntry(uid=1, keys=["Odesa"], comment="Odesa", content="Odesa is far away in the south."),
    ],
    characters=[Character(name="Mara Voss", description="tall woman, 40s, grey streak in black hair")],
)
PROMPT = "A detective hunts a ghost in rainy Podil"


def test_stages_one_and_two_are_offered_the_world() -> None:
    llm = ScriptedLLM([CAST, structure("grid-2x2"), panels(4)])
    result = plan_comic(PROMPT, max_pages=1, llm=llm, progress=False, world=WORLD)
    assert plan_issues(result.plan) == []
    stage1, stage2, stage3 = (call[0][1].content for call in llm.calls)
    for user in (stage1, stage2):
        assert "The story's world (use these characters and places):" in user
        assert "- Mara Voss: tall woman, 40s, grey streak in black hair" in user
        assert "- Podil: Podil is the old harbour quarter, wet cobbles." in user
        assert "Odesa" not in user  # not triggered by the idea
    assert "The story's world" not in stage3


def test_without_a_world_the_prompts_are_unchanged() -> None:
    llm = ScriptedLLM([CAST, structure("grid-2x2"), panels(4)])
    plan_comic(PROMPT, max_pages=1, llm=llm, progress=False)
    assert all("The story's world" not in call[0][1].content for call in llm.calls)
    assert world_brief(None, PROMPT) == "" and world_brief(World(), PROMPT) == ""
    assert len(world_brief(WORLD, PROMPT, max_chars=80)) <= 80
