"""Publishing a story played by the story engine: the protagonist and one post per illustrated segment."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("grpc")
pytest.importorskip("moto")
from publish_support import platform, token  # noqa: F401
from story_fakes import ScriptedLLM

from storybench.publish import PublishReport, RetryPolicy, plan_publication, publish
from storybench.publish.captions import MAX_CAPTION
from storybench.story import StoryEngine, StorySettings

WORLD = "world-story"


def _play(tmp_path, llm, steps: int = 3, max_tokens: int = 120):
    settings = StorySettings(premise="Доглядач маяка знаходить таємний лист", style="noir", language="uk", title="Маяк")
    engine = StoryEngine(
        settings,
        llm=llm,
        image_backend="storyboard",
        story_dir=tmp_path / "stories" / "lighthouse",
        inline_images=True,
        max_tokens=max_tokens,
    )
    engine.start()
    for _ in range(steps - 1):
        engine.choose(0)
    engine.save()
    engine.close()
    return engine.story, tmp_path / "stories" / "lighthouse"


def test_publish_story_played_with_storyboard(platform, tmp_path, token):
    story, folder = _play(tmp_path, ScriptedLLM())
    illustrated = [s for _, s in story.walk() if s.image_status == "done"]
    assert len(illustrated) == 3
    report = publish(folder, WORLD, policy=RetryPolicy(backoff_seconds=0), progress=False, llm=ScriptedLLM())
    assert isinstance(report, PublishReport)
    assert (report.created.characters, report.created.media, report.created.posts) == (1, 4, 3)
    assert platform.counts(WORLD) == {"characters": 1, "confirmed_media": 4, "posts": 3, "s3_objects": 4}
    hero = platform.ai_characters(WORLD)[0]
    assert hero.display_name == "Маяк"
    meta = json.loads(hero.meta)
    assert meta["role"] == "protagonist" and meta["story_id"] == story.id and meta["style"] == "noir"
    for seg, post in zip(illustrated, platform.posts, strict=True):
        assert post["character_id"] == hero.id
        # the scripted LLM gives no caption JSON: the plain narrative is used, cut to 300 characters
        assert post["caption"] and len(post["caption"]) <= MAX_CAPTION
        assert seg.text.split()[0] in post["caption"]
        assert post["tags"] == ["noir", "Маяк", "uk", "chapter 1"]
        assert platform.media[post["media_id"]]["filename"] == f"{seg.id}.png"
    again = publish(folder, WORLD, policy=RetryPolicy(backoff_seconds=0), progress=False)
    assert (again.created.characters, again.created.media, again.created.posts) == (0, 0, 0)
    # segments are counted from 1 in reading order for --pages
    assert [p.label for p in plan_publication(folder, pages=[2]).posts] == [f"segment {illustrated[1].id}"]


@pytest.mark.slow
def test_publish_story_played_with_embedded_llm(platform, tmp_path, token):
    pytest.importorskip("llama_cpp")
    from storybench.llm.base import get_llm_backend

    try:
        llm = get_llm_backend("llamacpp")
    except Exception as exc:  # model file not available here
        pytest.skip(f"embedded LLM unavailable: {exc}")
    story, folder = _play(tmp_path, llm, steps=1, max_tokens=48)
    report = publish(folder, WORLD, policy=RetryPolicy(backoff_seconds=0), progress=False, llm=llm)
    assert isinstance(report, PublishReport)
    n = len([s for _, s in story.walk() if s.image_status == "done"])
    assert n >= 1 and report.created.posts == n
    assert platform.counts(WORLD) == {"characters": 1, "confirmed_media": n + 1, "posts": n, "s3_objects": n + 1}
    for post in platform.posts:
        assert 0 < len(post["caption"]) <= MAX_CAPTION
