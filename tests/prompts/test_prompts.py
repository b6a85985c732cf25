from plan_factory import plan_dict

from storybench.plan import parse_plan
from storybench.plan.styles import STYLES
from storybench.prompts.panel import panel_prompt, panel_render_spec, panel_seed, render_size


def test_prompt_holds_style_camera_action_location_mood_and_cast():
    plan = parse_plan(plan_dict())
    panel = plan.chapters[0].pages[0].panels[0]
    positive, negative = panel_prompt(plan, panel)
    style = STYLES["noir"]
    assert positive.startswith(style.prompt_prefix)
    for part in (
        "medium shot",
        "action 1.1",
        "a rainy street at night",
        "tense mood",
        "Ann: tall woman, short grey hair, wearing trench coat",
        "Bo: young man, curly hair",
    ):
        assert part in positive
    assert negative == style.negative_prompt


def test_seed_is_stable_for_the_same_cast_and_differs_for_another():
    plan = parse_plan(plan_dict(("grid-2x2",)))
    panels = plan.chapters[0].pages[0].panels
    assert panels[0].characters == ["char-1", "char-2"] and panels[2].characters == ["char-1", "char-2"]
    assert panel_seed(plan, panels[0]) == panel_seed(plan, panels[2])
    assert panel_seed(plan, panels[0]) != panel_seed(plan, panels[1])
    reversed_cast = panels[0].model_copy(update={"characters": ["char-2", "char-1"]})
    assert panel_seed(plan, reversed_cast) == panel_seed(plan, panels[0])
    # a re-parse of the same plan asks for the same images
    again = parse_plan(plan_dict(("grid-2x2",)))
    assert panel_render_spec(again, again.chapters[0].pages[0].panels[0], 512, 512) == panel_render_spec(
        plan, panels[0], 512, 512
    )


def test_render_spec_carries_structured_fields_and_speakers():
    plan = parse_plan(plan_dict())
    panel = plan.chapters[0].pages[0].panels[0]
    spec = panel_render_spec(plan, panel, 640, 480, params={"steps": 20})
    assert (spec.width, spec.height, spec.panel_id, spec.camera) == (640, 480, panel.id, "medium shot")
    assert [(c.id, c.speaks) for c in spec.cast] == [("char-1", True), ("char-2", False)]
    assert spec.params == {"steps": 20}


def test_cache_key_changes_with_what_changes_the_image():
    plan = parse_plan(plan_dict())
    panel = plan.chapters[0].pages[0].panels[0]
    spec = panel_render_spec(plan, panel, 640, 480)
    key = spec.cache_key("storyboard", "1")
    assert key == panel_render_spec(plan, panel, 640, 480).cache_key("storyboard", "1")
    assert key != spec.cache_key("storyboard", "2")
    assert key != spec.cache_key("comfyui", "1")
    assert key != spec.model_copy(update={"prompt": spec.prompt + ", rain"}).cache_key("storyboard", "1")
    assert key != spec.model_copy(update={"seed": spec.seed + 1}).cache_key("storyboard", "1")
    assert key != spec.model_copy(update={"width": 648}).cache_key("storyboard", "1")
    assert key != spec.model_copy(update={"params": {"steps": 28}}).cache_key("storyboard", "1")


def test_render_size_keeps_aspect_and_multiples_of_8():
    w, h = render_size(1838, 1000, 1024)
    assert w == 1024 and h % 8 == 0 and abs(w / h - 1838 / 1000) < 0.02
    w, h = render_size(600, 1700, 1024)
    assert h == 1024 and w % 8 == 0
