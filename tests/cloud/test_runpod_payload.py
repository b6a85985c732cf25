"""worker-comfyui protocol helpers: output parsing and error text."""

import base64
import json

import pytest

from storybench.render.runpod import build_input, concurrency_from_health, error_text, parse_output
from storybench.render.runpod.payload import ReferenceImage


def test_parse_output_base64_s3_and_legacy():
    png = b"\x89PNG fake"
    images, errors = parse_output(
        {
            "images": [
                {"filename": "a.png", "type": "base64", "data": base64.b64encode(png).decode()},
                {"filename": "b.png", "type": "s3_url", "data": "https://bucket.s3/b.png"},
            ],
            "errors": ["warn: x"],
        }
    )
    assert images[0].data == png and images[1].url == "https://bucket.s3/b.png" and errors == ["warn: x"]
    (legacy,), _ = parse_output(
        {"status": "success", "message": "data:image/png;base64," + base64.b64encode(png).decode()}
    )
    assert legacy.data == png
    (url,), _ = parse_output(json.dumps({"status": "success", "message": "https://x/y.png"}))
    assert url.url == "https://x/y.png"


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"images": "nope"}, "output.images"),
        ({"images": [{"filename": "a"}]}, "output.images[0]"),
        ({"images": [{"type": "gif", "data": ""}]}, "output.images[0].type"),
        ({"something": 1}, "output: no 'images'"),
        (42, "output"),
    ],
)
def test_parse_output_names_the_bad_place(bad, where):
    with pytest.raises(ValueError, match=r"^" + where.replace("[", r"\[").replace("]", r"\]")):
        parse_output(bad)


def test_error_text_shapes():
    node = "Workflow execution error: Node Type: KSampler, Node ID: 3, Message: boom"
    assert error_text(node) == node
    assert (
        error_text(json.dumps({"error": "Failed to upload one or more input images", "details": ["a", "b"]}))
        == "Failed to upload one or more input images (details: a; b)"
    )
    assert error_text({"error_type": "<class 'ValueError'>", "error_message": "bad"}) == "<class 'ValueError'>: bad"


def test_build_input_dedupes_and_switches_to_urls():
    ref = ReferenceImage("sb_ref_1.png", b"abc", "x.png")
    payload = build_input({"1": {}}, [ref, ref])
    assert payload["images"] == [{"name": "sb_ref_1.png", "image": base64.b64encode(b"abc").decode()}]
    assert (
        build_input({"1": {}}, [ref], reference_url_base="https://h/r")["images"][0]["image"]
        == "https://h/r/sb_ref_1.png"
    )
    assert "images" not in build_input({"1": {}})


def test_concurrency_from_health():
    assert (
        concurrency_from_health(
            {"workers": {"idle": 2, "running": 3, "initializing": 1, "ready": 2, "throttled": 5}}, 4
        )
        == 6
    )
    assert concurrency_from_health({"workers": {"idle": 1, "running": 0}}, 4) == 4  # scaled down: still 4
    assert concurrency_from_health({"workers": {"idle": 1}}, 1) == 1
    assert concurrency_from_health({}, 0) == 1
