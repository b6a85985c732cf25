"""The identity scorer runs an ONNX image encoder the test builds itself (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from storybench.exceptions import ConfigError  # noqa: E402
from storybench.scoring import get_scorer  # noqa: E402
from storybench.scoring.embedding import MODEL_ENV, EmbeddingScorer  # noqa: E402


def _tiny_encoder(path: Path) -> Path:
    """Conv(3->4, 3x3) -> ReLU -> global average pool -> flatten: a 4-d embedding of a 32x32 image."""
    rng = np.random.default_rng(0)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], rng.normal(size=(4, 3, 3, 3)).ravel().tolist())
    nodes = [
        helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 4])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _picture(color: tuple[int, int, int], stripes: bool) -> Image.Image:
    img = Image.new("RGB", (64, 64), color)
    if stripes:
        for x in range(0, 64, 8):
            img.paste((255, 255, 255), (x, 0, x + 3, 64))
    return img


def test_same_image_scores_one_and_different_images_less(tmp_path: Path) -> None:
    scorer = EmbeddingScorer(_tiny_encoder(tmp_path / "tiny.onnx"))
    a, b = _picture((200, 30, 30), True), _picture((20, 40, 200), False)
    assert scorer.score(a, a) == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= scorer.score(a, b) < scorer.score(a, a)
    assert scorer.embed(a).shape == (4,)


def test_model_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(_tiny_encoder(tmp_path / "env.onnx")))
    assert isinstance(get_scorer("embedding"), EmbeddingScorer)


def test_missing_or_broken_model_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    with pytest.raises(ConfigError, match=MODEL_ENV):
        EmbeddingScorer()
    with pytest.raises(ConfigError, match="no such ONNX model"):
        EmbeddingScorer(tmp_path / "absent.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a loadable ONNX model"):
        EmbeddingScorer(tmp_path / "bad.onnx")
