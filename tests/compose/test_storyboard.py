import io

from PIL import Image

from storybench.render import get_image_backend
from storybench.render.spec import CastMember, RenderSpec
from storybench.render.staging import shot_scale, stage_cast


def spec(**kw):
    base = dict(
        prompt="p",
        seed=7,
        width=1024,
        height=640,
        style="american-classic",
        camera="medium shot",
        action="a",
        location="harbor at dawn",
        mood="calm",
        cast=(CastMember(id="a", name="Ann", speaks=True), CastMember(id="b", name="Bo")),
    )
    base.update(kw)
    return RenderSpec(**base)


def decode(result):
    im = Image.open(io.BytesIO(result.image))
    im.load()
    return im


def test_renders_png_of_the_requested_size_deterministically():
    backend = get_image_backend("storyboard")
    a, b = backend.render(spec()), backend.render(spec())
    assert a.image == b.image
    im = decode(a)
    assert im.format == "PNG" and im.size == (1024, 640) == (a.width, a.height)


def test_mood_style_and_seed_change_the_picture():
    backend = get_image_backend("storyboard")
    base = backend.render(spec()).image
    assert backend.render(spec(mood="tense")).image != base
    assert backend.render(spec(style="noir")).image != base
    assert backend.render(spec(seed=8)).image != base


def test_monochrome_styles_draw_in_greys():
    im = decode(get_image_backend("storyboard").render(spec(style="noir", mood="tense"))).convert("RGB")
    colours = im.getcolors(maxcolors=1 << 20)
    assert all(r == g == b for _, (r, g, b) in colours)


def test_figures_are_drawn_where_staging_puts_them():
    s = spec(camera="wide shot", mood="")
    figures = stage_cast(s.cast, s.camera, s.width / s.height)
    assert [f.id for f in figures] == ["a", "b"]
    im = decode(get_image_backend("storyboard").render(s)).convert("RGB")
    plain = decode(get_image_backend("storyboard").render(s.model_copy(update={"cast": ()}))).convert("RGB")
    for f in figures:  # the head centre differs from the empty scene
        x, y = (round(c * n) for c, n in zip(f.head_center, im.size, strict=True))
        assert im.getpixel((x, y)) != plain.getpixel((x, y))


def test_camera_sets_the_shot_scale():
    cast = (CastMember(id="a", name="Ann"), CastMember(id="b", name="Bo", speaks=True))
    close = stage_cast(cast, "close-up", 1.5)
    assert [f.id for f in close] == ["b"]  # the speaker gets the close-up
    wide = stage_cast(cast, "extreme wide shot", 1.5)
    medium = stage_cast(cast, "medium shot", 1.5)
    size = lambda f: f.head[3] - f.head[1]  # noqa: E731
    assert size(close[0]) > size(medium[0]) > size(wide[0])
    assert shot_scale("Bird's-eye view") == "tiny" and shot_scale("cowboy shot") == "medium"
