"""The rules slot inference follows, and what it returns.

Node classes, input names and title words that :mod:`~storybench.render.comfyui.slots_infer`
recognises (from ComfyUI's ``nodes.py`` and ``comfy_extras``), the plain words each slot is
shown with, and the result types: :class:`SlotInference`, :class:`Ambiguity`, :class:`Candidate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # image_roles walks a WorkflowGraph, which uses Candidate from here
    from storybench.render.comfyui.image_roles import ImageInput

__all__ = [
    "COND_INPUTS",
    "LATENT_INPUTS",
    "MODEL_INPUTS",
    "SAMPLERS",
    "SAMPLER_SLOTS",
    "SAVERS",
    "SLOT_INPUTS",
    "SLOT_WORDS",
    "TEXT_INPUTS",
    "TITLE_ALIASES",
    "Ambiguity",
    "Candidate",
    "SlotInference",
]

SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
SAVERS = ("SaveImage", "PreviewImage")
#: input names that carry a prompt's text, in preference order (CLIPTextEncodeFlux: t5xxl + clip_l).
TEXT_INPUTS = ("text", "t5xxl", "text_g", "prompt", "clip_l", "text_l")
#: slots whose node is the sampler or one that feeds it (a ``choices`` entry picks the sampler).
SAMPLER_SLOTS = ("seed", "steps", "cfg", "sampler", "scheduler", "denoise")
#: plain words for each slot, for ``storybench workflow show``.
SLOT_WORDS = {
    "positive": "positive prompt",
    "negative": "negative prompt",
    "seed": "seed",
    "width": "width (pixels)",
    "height": "height (pixels)",
    "steps": "sampling steps",
    "cfg": "CFG scale",
    "sampler": "sampler name",
    "scheduler": "scheduler",
    "guidance": "FLUX guidance",
    "denoise": "denoise strength",
    "color": "fill colour",
    "checkpoint": "checkpoint model",
    "unet": "diffusion model (UNet)",
    "clip_l": "CLIP-L text encoder",
    "t5": "T5 text encoder",
    "text_encoder": "text encoder",
    "clip_vision": "CLIP vision (image) encoder",
    "vae": "VAE",
    "lora": "LoRA",
    "reference_image": "reference image",
    "reference_image_2": "reference image 2",
    "reference_image_3": "reference image 3",
    "reference_image_4": "reference image 4",
    "filename_prefix": "file name prefix",
    "output": "output image node",
}
TITLE_ALIASES = {
    "positive": "positive",
    "positive prompt": "positive",
    "prompt": "positive",
    "negative": "negative",
    "negative prompt": "negative",
    "seed": "seed",
    "noise seed": "seed",
    "width": "width",
    "height": "height",
    "steps": "steps",
    "cfg": "cfg",
    "reference": "reference_image",
    "reference image": "reference_image",
    "reference image 2": "reference_image_2",
    "reference image 3": "reference_image_3",
    "reference image 4": "reference_image_4",
    "output": "output",
}
#: input names a slot may live under, for title overrides and ``choices``.
SLOT_INPUTS: dict[str, tuple[str, ...]] = {
    "positive": TEXT_INPUTS,
    "negative": TEXT_INPUTS,
    "seed": ("seed", "noise_seed", "value"),
    "width": ("width", "value"),
    "height": ("height", "value"),
    "steps": ("steps", "value"),
    "cfg": ("cfg", "value"),
    "sampler": ("sampler_name", "value"),
    "scheduler": ("scheduler", "value"),
    "guidance": ("guidance", "value"),
    "denoise": ("denoise", "value"),
    "color": ("color",),
    "checkpoint": ("ckpt_name",),
    "unet": ("unet_name",),
    "clip_l": ("clip_name1", "clip_name"),
    "t5": ("clip_name2", "clip_name"),
    "text_encoder": ("clip_name",),
    "clip_vision": ("clip_name",),
    "vae": ("vae_name",),
    "lora": ("lora_name",),
    "reference_image": ("image",),
    "reference_image_2": ("image",),
    "reference_image_3": ("image",),
    "reference_image_4": ("image",),
    "filename_prefix": ("filename_prefix",),
    "output": (),
}
MODEL_INPUTS = ("ckpt_name", "unet_name", "vae_name", "lora_name", "clip_name", "clip_name1", "clip_name2")
LATENT_INPUTS = ("latent_image", "samples", "latent", "pixels", "image", "images", "noise")
COND_INPUTS = re.compile(r"^(conditioning.*|positive|negative|cond.*|guider)$")


@dataclass(frozen=True)
class Candidate:
    """One node that could fill an ambiguous slot: id, class and title."""

    node_id: str
    class_type: str
    title: str

    def __str__(self) -> str:
        return f"{self.node_id} {self.class_type} {self.title!r}"


@dataclass
class Ambiguity:
    """A slot the graph does not settle: the candidates and how to choose (``--slot slot=ID``)."""

    slot: str
    reason: str
    candidates: list[Candidate]

    def __str__(self) -> str:
        names = "; ".join(map(str, self.candidates))
        example = self.candidates[0].node_id if self.candidates else "ID"
        return f"{self.slot}: {self.reason}: {names} (choose with --slot {self.slot}={example})"


@dataclass
class SlotInference:
    """What :func:`infer_slots` found.

    Attributes:
        slots: slot name → ``{"node": node_id, "input": name}`` (``output`` has no input),
            ready for :class:`~storybench.render.comfyui.workflow.WorkflowTemplate`.
        how: slot name → how it was found (``"graph"``, ``"title"``, ``"choice"``).
        ambiguities: slots the graph does not settle (empty when it does).
        models: every model loader input in the workflow (``(node_id, input, file)``),
            LoRAs included, for preflight and ``workflow show``.
        notes: plain-language remarks (e.g. a zeroed negative).
        images: every image loader and what it is for (reference, control image, mask).
        prompt_trace: how the positive prompt was looked for (nodes walked), for messages.
    """

    slots: dict[str, dict[str, str]] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    ambiguities: list[Ambiguity] = field(default_factory=list)
    models: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images: list[ImageInput] = field(default_factory=list)
    prompt_trace: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing is ambiguous and an output node was found."""
        return not self.ambiguities and "output" in self.slots
