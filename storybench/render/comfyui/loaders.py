"""What a model loader node loads, in words, and which template binding it fills.

A loader is recognised by its class (ComfyUI's ``nodes.py`` and ``comfy_extras``) and, for
the text encoder loaders, by the ``type`` input and the file name: a ``CLIPLoader`` of type
``qwen_image`` with ``qwen_2.5_vl_7b_fp8_scaled.safetensors`` loads a Qwen2.5-VL text encoder,
not a CLIP-L one; a ``CLIPVisionLoader`` loads an image (vision) encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["encoder_family", "loader_binding", "loader_label"]

#: file-name fragments → the text encoder they hold, first match wins.
_ENCODER_FILES = (
    (("qwen_2.5_vl", "qwen2.5_vl", "qwen25_vl", "qwen_2_5_vl"), "Qwen2.5-VL"),
    (("umt5",), "UMT5"),
    (("t5xxl", "t5-xxl", "t5_xxl", "t5"), "T5"),
    (("clip_l", "clip-l", "clipl"), "CLIP-L"),
    (("clip_g", "clip-g", "clipg"), "CLIP-G"),
    (("llama", "llava"), "Llama"),
    (("gemma",), "Gemma"),
    (("byt5",), "ByT5"),
)
_SIMPLE = {
    "CheckpointLoaderSimple": "checkpoint model",
    "CheckpointLoader": "checkpoint model",
    "ImageOnlyCheckpointLoader": "checkpoint model",
    "UNETLoader": "diffusion model (UNet)",
    "VAELoader": "VAE",
    "LoraLoader": "LoRA",
    "LoraLoaderModelOnly": "LoRA",
    "ControlNetLoader": "ControlNet model",
    "DiffControlNetLoader": "ControlNet model",
    "CLIPVisionLoader": "CLIP vision (image) encoder",
    "StyleModelLoader": "style model",
    "UpscaleModelLoader": "upscale model",
    "ModelPatchLoader": "model patch",
}


def encoder_family(file_name: str) -> str | None:
    """The text encoder a file holds, from its name (``"T5"``, ``"CLIP-L"``, ``"Qwen2.5-VL"``...),
    ``None`` when the name does not say."""
    lowered = file_name.lower()
    for fragments, family in _ENCODER_FILES:
        if any(f in lowered for f in fragments):
            return family
    return None


def loader_label(class_type: str, inputs: Mapping[str, Any], input_name: str = "") -> str:
    """What a loader node loads, in words, e.g. ``"Qwen2.5-VL text encoder (CLIPLoader, type
    qwen_image)"``, ``"CLIP vision (image) encoder"``, ``"T5 text encoder"``.

    Args:
        class_type: the loader's class.
        inputs: its inputs (``clip_name``, ``type``...).
        input_name: the file input asked about (``clip_name1``/``clip_name2`` of a ``DualCLIPLoader``).
    """
    if class_type in _SIMPLE:
        return _SIMPLE[class_type]
    if "clip_name" in input_name or class_type.endswith("CLIPLoader"):
        file_name = str(inputs.get(input_name or "clip_name", ""))
        family = encoder_family(file_name)
        kind = inputs.get("type")
        suffix = f" ({class_type}, type {kind})" if isinstance(kind, str) and family is None else ""
        return f"{family} text encoder" if family else f"text encoder{suffix}"
    return "model file"


def loader_binding(class_type: str, inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The template bindings a loader fills: ``[(binding, input name)]``.

    ``checkpoint``, ``unet``, ``vae``, ``lora``; a ``DualCLIPLoader`` gives ``clip_l`` and ``t5``
    (by file name, CLIP-L first when neither says); a single ``CLIPLoader`` gives ``t5`` or
    ``clip_l`` when its file is one of those, else ``text_encoder``; a ``CLIPVisionLoader`` gives
    ``clip_vision``.
    """
    simple = {"ckpt_name": "checkpoint", "unet_name": "unet", "vae_name": "vae", "lora_name": "lora"}
    found = [(binding, name) for name, binding in simple.items() if name in inputs]
    if class_type == "CLIPVisionLoader":
        return [("clip_vision", "clip_name")]
    if "clip_name1" in inputs and "clip_name2" in inputs:
        found += _dual_clip(inputs)
    elif isinstance(inputs.get("clip_name"), str):
        family = encoder_family(inputs["clip_name"])
        binding = {"T5": "t5", "UMT5": "t5", "CLIP-L": "clip_l"}.get(family or "", "text_encoder")
        found.append((binding, "clip_name"))
    return found


def _dual_clip(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A ``DualCLIPLoader``'s ``clip_l`` and ``t5`` inputs (by file name, CLIP-L first when neither says)."""
    first = encoder_family(str(inputs["clip_name1"])) or ""
    second = encoder_family(str(inputs["clip_name2"])) or ""
    t5_first = first.endswith("T5") and not second.endswith("T5")
    clip_l, t5 = ("clip_name2", "clip_name1") if t5_first else ("clip_name1", "clip_name2")
    return [("clip_l", clip_l), ("t5", t5)]
