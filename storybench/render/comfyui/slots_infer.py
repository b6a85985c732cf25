"""Find a workflow's slots by following its graph (no hand-written ``.slots.json``).

Input: an API-format workflow (``{node_id: {"class_type", "inputs", "_meta"}}``; an
input holding ``[source_id, output_index]`` is a link). Output: :class:`SlotInference`,
whose :attr:`~SlotInference.slots` is a slots mapping that
:class:`~storybench.render.comfyui.workflow.WorkflowTemplate` accepts.

The rules (node classes from ComfyUI's ``nodes.py`` and ``comfy_extras``):

- the sampler: ``KSampler``, ``KSamplerAdvanced``, ``SamplerCustom`` or
  ``SamplerCustomAdvanced`` that reaches an image output (``SaveImage``, else
  ``PreviewImage``). Seed (``seed``/``noise_seed``, for ``SamplerCustomAdvanced`` on its
  ``RandomNoise``), steps, cfg, sampler name and scheduler sit on the sampler or on the
  nodes that feed it (``CFGGuider``/``BasicGuider``, ``KSamplerSelect``, ``BasicScheduler``);
- positive and negative: the text input of the ``CLIPTextEncode``-family node reached
  upstream from the sampler's (or guider's) ``positive``/``negative``/``conditioning``
  input, through conditioning nodes (``FluxGuidance`` gives the ``guidance`` slot,
  ``ReferenceLatent``, ``ConditioningCombine``...). A negative that passes through
  ``ConditioningZeroOut`` or reaches the positive's node has no slot;
- width and height: the first node with literal ``width`` and ``height`` upstream of the
  sampler's latent (``EmptyLatentImage``, ``EmptySD3LatentImage``..., or an image scaler
  for img2img); without a sampler, upstream of the output (``EmptyImage``: also ``color``);
- the reference image: a ``LoadImage`` that reaches the sampler (through
  ``ReferenceLatent``/``FluxKontextImageScale``/``VAEEncode``...); ``denoise`` is a slot
  when the latent comes from an image (img2img);
- models: checkpoint, UNet, CLIP (``clip_l``/``t5`` of a ``DualCLIPLoader``) and VAE
  loaders that feed the sampler's model, the text encoder's clip and the decoder's vae;
- the output: the ``SaveImage`` (or ``PreviewImage``) the sampler's image reaches, with
  its ``filename_prefix``.

A node whose title (``_meta.title``) names a slot (``positive``, ``Negative Prompt``,
``seed``, ``width``, ``reference image``...) overrides what the graph says. Where the
graph is ambiguous (two samplers or two outputs reach the end), :attr:`SlotInference.ambiguities`
names the candidates and ``choices`` (``{"positive": "12"}``, from ``--slot positive=12``)
settle it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from typing import Any

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.slot_rules import (
    COND_INPUTS,
    LATENT_INPUTS,
    MODEL_INPUTS,
    SAMPLER_SLOTS,
    SAMPLERS,
    SLOT_INPUTS,
    SLOT_WORDS,
    TEXT_INPUTS,
    TITLE_ALIASES,
    Ambiguity,
    Candidate,
    SlotInference,
)
from storybench.render.comfyui.workflow import SLOT_NAMES
from storybench.render.comfyui.workflow_graph import WorkflowGraph, is_link

__all__ = ["SLOT_WORDS", "Ambiguity", "Candidate", "SlotInference", "infer_slots"]


class _Inferrer:
    def __init__(self, workflow: Mapping[str, Any], choices: Mapping[str, str]) -> None:
        if not isinstance(workflow, Mapping) or not workflow:
            raise WorkflowError(BACKEND, "slot inference needs an API-format workflow (a JSON object of nodes)")
        self.g = WorkflowGraph(workflow)
        self.result = SlotInference()
        self.choices = {k: self._node_ref(k, str(v)) for k, v in choices.items()}
        self.sampler: str | None = None

    def _node_ref(self, slot: str, ref: str) -> str:
        if slot not in SLOT_NAMES and slot != "lora":
            raise WorkflowError(BACKEND, f"--slot {slot}={ref}: unknown slot (known: {', '.join(SLOT_NAMES)})")
        if ref in self.g.nodes:
            return ref
        titled = [nid for nid in self.g.nodes if self.g.title(nid) == ref]
        if len(titled) == 1:
            return titled[0]
        raise WorkflowError(
            BACKEND,
            f"--slot {slot}={ref}: no node with that id or title"
            if not titled
            else f"--slot {slot}={ref}: title used by nodes {', '.join(titled)}; give a node id",
        )

    def put(self, slot: str, where: tuple[str, str] | None, how: str = "graph", *, keep: bool = False) -> None:
        if where is None or (keep and slot in self.result.slots):
            return
        nid, name = where
        self.result.slots[slot] = {"node": nid} if slot == "output" else {"node": nid, "input": name}
        self.result.how[slot] = how

    # ---------------------------------------------------------------- the sampler and the output
    def outputs(self) -> list[str]:
        saves = [n for n in self.g.nodes if self.g.cls(n) == "SaveImage"]
        return saves or [n for n in self.g.nodes if self.g.cls(n) == "PreviewImage"]

    def pick_sampler(self) -> str | None:
        samplers = [n for n in self.g.nodes if self.g.cls(n) in SAMPLERS]
        outs = set(self.outputs())
        reaching = [s for s in samplers if self.g.downstream(s) & outs] or samplers
        if len(reaching) <= 1:
            return reaching[0] if reaching else None
        for slot in ("positive", "negative", *SAMPLER_SLOTS, "reference_image"):
            chosen = self.choices.get(slot)
            if chosen is None:
                continue
            fed = [s for s in reaching if s in self.g.downstream(chosen)]
            if len(fed) == 1:
                return fed[0]
            # a conditioning node shared by both samplers: the one that is the chosen node itself wins
            if chosen in reaching:
                return chosen
        self.result.ambiguities.append(
            Ambiguity(
                "seed",
                f"{len(reaching)} samplers reach the output (e.g. a base and a refiner); "
                "name the sampler whose prompt and seed storybench sets",
                [self.g.candidate(s) for s in reaching],
            )
        )
        return None

    def pick_output(self, sampler: str | None) -> str | None:
        outs = self.outputs()
        if sampler is not None:
            reached = self.g.downstream(sampler)
            outs = [o for o in outs if o in reached] or outs
        if "output" in self.choices:
            return self.choices["output"]
        if len(outs) == 1:
            return outs[0]
        if not outs:
            self.result.notes.append("no SaveImage or PreviewImage node: nothing would be returned")
            return None
        self.result.ambiguities.append(
            Ambiguity(
                "output",
                f"{len(outs)} image outputs are reached; name the one storybench downloads",
                [self.g.candidate(o) for o in outs],
            )
        )
        return None

    # ---------------------------------------------------------------- sampler settings
    def sampler_settings(self, sampler: str) -> None:
        g = self.g
        cls = g.cls(sampler)
        self.put("seed", g.literal_input(sampler, ("seed", "noise_seed")))
        if cls == "SamplerCustomAdvanced":
            noise = g.source(sampler, "noise")
            if noise is not None:
                self.put("seed", g.literal_input(noise, ("noise_seed", "seed")))
            guider = g.source(sampler, "guider")
            if guider is not None:
                self.put("cfg", g.literal_input(guider, ("cfg",)))
        for name, slot in (("steps", "steps"), ("cfg", "cfg"), ("sampler_name", "sampler"), ("scheduler", "scheduler")):
            self.put(slot, g.literal_input(sampler, (name,)))
        select = g.source(sampler, "sampler")
        if select is not None:
            self.put("sampler", g.literal_input(select, ("sampler_name",)))
        sigmas = g.source(sampler, "sigmas")
        if sigmas is not None:
            self.put("steps", g.literal_input(sigmas, ("steps",)))
            self.put("scheduler", g.literal_input(sigmas, ("scheduler",)))

    # ---------------------------------------------------------------- prompts
    def text_node(self, start: str | None) -> tuple[str | None, bool, str | None]:
        """Follow conditioning upstream from ``start``: (text node, zeroed on the way, guidance node)."""
        zeroed, guidance = False, None
        seen: set[str] = set()
        todo = deque([start] if start else [])
        while todo:
            nid = todo.popleft()
            if nid in seen:
                continue
            seen.add(nid)
            cls = self.g.cls(nid)
            if cls == "ConditioningZeroOut":
                zeroed = True
            if guidance is None and "guidance" in self.g.inputs(nid) and not is_link(self.g.inputs(nid)["guidance"]):
                guidance = nid
            if cls.startswith("CLIPTextEncode") or self.g.literal_input(nid, TEXT_INPUTS[:1]) is not None:
                return nid, zeroed, guidance
            for name in self.g.inputs(nid):
                if COND_INPUTS.match(name):
                    src = self.g.source(nid, name)
                    if src is not None:
                        todo.append(src)
        return None, zeroed, guidance

    def prompts(self, sampler: str) -> None:
        g = self.g
        pos_start = g.source(sampler, "positive")
        neg_start = g.source(sampler, "negative")
        guider = g.source(sampler, "guider")
        if guider is not None:
            pos_start = g.source(guider, "positive") or g.source(guider, "conditioning")
            neg_start = g.source(guider, "negative")
        pos, _, guidance = self.text_node(pos_start)
        if pos is not None:
            self.put("positive", g.literal_input(pos, TEXT_INPUTS))
            if guidance is None and "guidance" in g.inputs(pos):
                guidance = pos
        if guidance is not None:
            self.put("guidance", g.literal_input(guidance, ("guidance",)))
        neg, zeroed, _ = self.text_node(neg_start)
        if neg is not None and not zeroed and neg != pos:
            self.put("negative", g.literal_input(neg, TEXT_INPUTS))
        elif neg_start is not None:
            self.result.notes.append(
                "the negative conditioning is zeroed or shared with the positive: no negative slot"
            )

    # ---------------------------------------------------------------- size, reference image, models
    def size(self, start: str | None, from_output: bool) -> None:
        if start is None:
            return
        g = self.g
        chain = [start, *g.upstream(start, None if from_output else LATENT_INPUTS)]
        for nid in chain:
            inp = g.inputs(nid)
            if "width" in inp and "height" in inp and not is_link(inp["width"]) and not is_link(inp["height"]):
                self.put("width", (nid, "width"))
                self.put("height", (nid, "height"))
                if "color" in inp and not is_link(inp["color"]):
                    self.put("color", (nid, "color"))
                return

    def reference(self, sampler: str) -> None:
        g = self.g
        loads = [n for n in g.nodes if g.cls(n) == "LoadImage" and sampler in g.downstream(n)]
        if "reference_image" in self.choices:
            return
        if len(loads) == 1:
            self.put("reference_image", (loads[0], "image"))
        elif len(loads) > 1:
            self.result.ambiguities.append(
                Ambiguity(
                    "reference_image",
                    f"{len(loads)} LoadImage nodes feed the sampler; name the one storybench fills",
                    [g.candidate(n) for n in loads],
                )
            )
        latent = g.source(sampler, "latent_image")
        if latent is not None and any(g.cls(n) == "VAEEncode" for n in [latent, *g.upstream(latent, LATENT_INPUTS)]):
            self.put("denoise", g.literal_input(sampler, ("denoise",)))
            sigmas = g.source(sampler, "sigmas")
            if sigmas is not None:
                self.put("denoise", g.literal_input(sigmas, ("denoise",)))

    def models(self, sampler: str | None, output: str | None) -> None:
        g = self.g
        if sampler is None and any(a.slot == "seed" for a in self.result.ambiguities):
            output = None  # which loaders matter depends on the sampler still to be chosen
        for nid in g.nodes:
            for name, value in g.inputs(nid).items():
                if name in MODEL_INPUTS and isinstance(value, str):
                    self.result.models.append((nid, name, value))
        used: list[str] = []
        for start in (sampler, output, self.result.slots.get("positive", {}).get("node")):
            if start is not None:
                used += [start, *g.upstream(start)]
        for nid in dict.fromkeys(used):
            inp = g.inputs(nid)
            if "ckpt_name" in inp:
                self.put("checkpoint", g.literal_input(nid, ("ckpt_name",)), keep=True)
            if "unet_name" in inp:
                self.put("unet", g.literal_input(nid, ("unet_name",)), keep=True)
            if "vae_name" in inp:
                self.put("vae", g.literal_input(nid, ("vae_name",)), keep=True)
            if "clip_name1" in inp and "clip_name2" in inp:
                first, second = str(inp["clip_name1"]).lower(), str(inp["clip_name2"]).lower()
                t5_first = ("t5" in first or "umt5" in first) and "t5" not in second
                self.put("clip_l", (nid, "clip_name2" if t5_first else "clip_name1"), keep=True)
                self.put("t5", (nid, "clip_name1" if t5_first else "clip_name2"), keep=True)
            elif isinstance(inp.get("clip_name"), str):  # a single CLIPLoader: T5 or CLIP-L by its file name
                slot = "t5" if "t5" in inp["clip_name"].lower() else "clip_l"
                self.put(slot, (nid, "clip_name"), keep=True)
            if "lora_name" in inp and "lora" not in self.result.slots:
                self.put("lora", g.literal_input(nid, ("lora_name",)))

    # ---------------------------------------------------------------- titles and choices
    def overrides(self) -> None:
        g = self.g
        titled: dict[str, list[tuple[str, str]]] = {}
        for nid in g.nodes:
            key = re.sub(r"[\s_-]+", " ", g.title(nid).strip().lower())
            slot = TITLE_ALIASES.get(key)
            if slot is None or slot in self.choices:
                continue
            where = (nid, "") if slot == "output" else g.literal_input(nid, SLOT_INPUTS[slot])
            if where is None and slot != "output":
                literals = [k for k, v in g.inputs(nid).items() if not is_link(v)]
                where = (nid, literals[0]) if len(literals) == 1 else None
            if where is None:
                self.result.notes.append(f"node {nid} is titled {g.title(nid)!r} but has no input for slot {slot}")
                continue
            titled.setdefault(slot, []).append(where)
        for slot, places in titled.items():
            if len(places) > 1 and self.sampler is not None:
                feeding = [*self.g.upstream(self.sampler), self.sampler]
                places = [p for p in places if p[0] in feeding] or places
            if len(places) == 1:
                current = self.result.slots.get(slot, {})
                if (current.get("node"), current.get("input", "")) != places[0]:
                    self.put(slot, places[0], "title")
            else:
                self.result.ambiguities.append(
                    Ambiguity(slot, f"{len(places)} nodes are titled for it", [g.candidate(p[0]) for p in places])
                )
        for slot, nid in self.choices.items():
            where = (nid, "") if slot == "output" else g.literal_input(nid, SLOT_INPUTS.get(slot, ()))
            if where is None:
                literals = [k for k, v in g.inputs(nid).items() if not is_link(v)]
                if len(literals) != 1:
                    raise WorkflowError(
                        BACKEND,
                        f"--slot {slot}={nid}: node {nid} ({g.cls(nid)}) has no input for {slot} "
                        f"(looked for {', '.join(SLOT_INPUTS.get(slot, ())) or 'one literal input'}; "
                        f"inputs: {', '.join(g.inputs(nid))})",
                    )
                where = (nid, literals[0])
            self.put(slot, where, "choice")
        settled = {a.slot for a in self.result.ambiguities if a.slot in self.result.slots}
        self.result.ambiguities = [a for a in self.result.ambiguities if a.slot not in settled]

    def run(self) -> SlotInference:
        sampler = self.sampler = self.pick_sampler()
        output = self.pick_output(sampler)
        if sampler is not None:
            self.sampler_settings(sampler)
            self.prompts(sampler)
            self.size(self.g.source(sampler, "latent_image"), from_output=False)
            self.reference(sampler)
        elif output is not None and not self.result.ambiguities:
            self.size(output, from_output=True)
        if output is not None:
            self.put("output", (output, ""))
        self.models(sampler, output)
        self.overrides()
        final = self.result.slots.get("output", {}).get("node")
        if final is not None and "filename_prefix" not in self.result.slots:
            self.put("filename_prefix", self.g.literal_input(final, ("filename_prefix",)))
        if any(a.slot == "seed" for a in self.result.ambiguities):
            # prompts and settings depend on the sampler: without one, keep only what is unambiguous
            for slot in ("positive", "negative", *SAMPLER_SLOTS, "guidance", "width", "height", "reference_image"):
                if self.result.how.get(slot) == "graph":
                    self.result.slots.pop(slot, None)
                    self.result.how.pop(slot, None)
        return self.result


def infer_slots(workflow: Mapping[str, Any], choices: Mapping[str, str] | None = None) -> SlotInference:
    """Work out a workflow's slots by following its graph.

    Args:
        workflow: an API-format workflow.
        choices: slot → node id or title that settles an ambiguity or overrides the
            graph (``{"positive": "12"}``, from ``--slot positive=12``). A choice for a
            prompt or sampler setting also picks the sampler it feeds.

    Returns:
        The slots found, how each was found, the ambiguities left and the models used.

    Raises:
        WorkflowError: not a workflow, or a choice that names no node / an unknown slot.
    """
    return _Inferrer(workflow, choices or {}).run()
