"""The identity scorer: cosine similarity of image embeddings from an ONNX model.

The model is any image encoder exported to ONNX with one image input (NCHW float32,
RGB, ImageNet mean/std normalisation) and one output (the embedding; flattened) —
for example the image tower of CLIP or DINOv2-small, as personalisation papers and
ViStoryBench measure identity (CLIP-I, DINO similarity). It runs on onnxruntime's CPU
provider. Weights are never downloaded: the path comes from the ``model`` argument
or the ``STORYBENCH_SCORER_MODEL`` environment variable. Needs ``storybench[scoring]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from PIL import Image

from storybench.exceptions import ConfigError
from storybench.scoring.base import Scorer

__all__ = ["MODEL_ENV", "EmbeddingScorer"]

#: Environment variable naming the ONNX model file when no path is given.
MODEL_ENV = "STORYBENCH_SCORER_MODEL"
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_DEFAULT_SIDE = 224


class EmbeddingScorer(Scorer):
    """Identity similarity from an ONNX image-embedding model (see the module doc).

    Args:
        model: path of the ``.onnx`` file; None reads ``STORYBENCH_SCORER_MODEL``.

    Raises:
        ConfigError: no model path given, or the file does not exist or does not load.
    """

    name: ClassVar[str] = "embedding"

    def __init__(self, model: str | Path | None = None) -> None:
        path = model if model is not None else os.environ.get(MODEL_ENV)
        if not path:
            raise ConfigError(f"the embedding scorer needs an ONNX model: pass model=PATH or set {MODEL_ENV}")
        self.model_path = Path(path)
        if not self.model_path.is_file():
            raise ConfigError(f"{self.model_path}: no such ONNX model file (the embedding scorer's model)")
        try:
            self._session = ort.InferenceSession(str(self.model_path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ConfigError(f"{self.model_path}: not a loadable ONNX model ({exc})") from exc
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self._size = _input_size(inp.shape)

    def embed(self, image: Image.Image) -> NDArray[np.float32]:
        """The L2-normalised embedding of ``image`` (1-D float32)."""
        img = image.convert("RGB").resize(self._size, Image.Resampling.BILINEAR)
        x = (np.asarray(img, dtype=np.float32) / 255.0 - _MEAN) / _STD
        batch = x.transpose(2, 0, 1)[None].astype(np.float32)
        out = np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32).ravel()
        norm = float(np.linalg.norm(out))
        return out / norm if norm else out

    def score(self, region: Image.Image, sheet: Image.Image) -> float:
        """``(cos + 1) / 2`` of the two embeddings, in ``0..1``."""
        cos = float(np.dot(self.embed(region), self.embed(sheet)))
        return max(0.0, min(1.0, (cos + 1) / 2))


def _input_size(shape: list[Any]) -> tuple[int, int]:
    """``(width, height)`` of an NCHW input shape; dynamic sides default to 224."""
    height = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else _DEFAULT_SIDE
    width = shape[3] if len(shape) == 4 and isinstance(shape[3], int) else _DEFAULT_SIDE
    return width, height
