"""Find a workflow's bindings (its "slots": which node input each role such as the positive
prompt or the seed lives in) by following its graph, with no hand-written ``.slots.json``.

"Slot" here is storybench's older word for a role → node binding, not a ComfyUI node socket;
new names say "binding" (:func:`infer_bindings` is :func:`infer_slots`).

Input: an API-format workflow (``{node_id: {"class_type", "inputs", "_meta"}}``; an
input holding ``[source_id, output_index]`` is a link). Output: :class:`SlotInference`,
whose :attr:`~SlotInference.slots` is a bindings mapping that
:class:`~storybench.render.comfyui.workflow.WorkflowTemplate` accepts.

The rules (node classes from ComfyUI's ``nodes.py`` and ``comfy_extras``):

- the sampler: ``KSampler``, ``KSamplerAdvanced``, ``SamplerCustom`` or
  ``SamplerCustomAdvanced`` that reaches an image output (``SaveImage``, else
  ``PreviewImage``). Seed (``seed``/``noise_seed``, for ``SamplerCustomAdvanced`` on its
  ``RandomNoise``), steps, cfg, sampler name and scheduler sit on the sampler or on the
  nodes that feed it (``CFGGuider``/``BasicGuider``/``DualCFGGuider``, ``KSamplerSelect``,
  ``BasicScheduler``);
- positive and negative: the text input of the node reached upstream from the sampler's (or
  guider's: ``positive``, ``conditioning``, ``cond1``) conditioning, whatever the encoder
  (:mod:`~storybench.render.comfyui.conditioning`: ``CLIPTextEncode*``,
  ``TextEncodeQwenImageEdit*``...; ``FluxGuidance`` on the way gives ``guidance``). A negative
  that passes through ``ConditioningZeroOut`` or reaches the positive's node has no binding.
  Without a sampler (API nodes), the first node upstream of the output with a literal
  ``prompt``/``text`` input holds the positive (its ``negative_prompt`` the negative);
- width and height: the first node with literal ``width`` and ``height`` upstream of the
  sampler's latent (``EmptyLatentImage``, ``EmptySD3LatentImage``..., or an image scaler
  for img2img); without a sampler, upstream of the output (``EmptyImage``: also ``color``);
- images: each ``LoadImage``/``LoadImageOutput`` is classified by what it feeds
  (:mod:`~storybench.render.comfyui.image_roles`); only a reference becomes a
  ``reference_image`` binding (a ControlNet's map and a mask source stay as they are);
  several references become ``reference_image``, ``reference_image_2``... in the order of
  :func:`~storybench.render.comfyui.references.reference_order` (``image1`` before ``image2``);
  ``denoise`` is a binding when the latent comes from an image (img2img);
- models: the loaders (:mod:`~storybench.render.comfyui.loaders`) that feed the sampler's
  model, the text encoder's clip and the decoder's vae;
- the output: the ``SaveImage`` (or ``PreviewImage``) the sampler's image reaches, with
  its ``filename_prefix``.

A node whose title (``_meta.title``) names a binding (``positive``, ``Negative Prompt``,
``seed``, ``width``, ``reference image``...) overrides what the graph says. Where the
graph is ambiguous (two samplers or two outputs reach the end), :attr:`SlotInference.ambiguities`
names the candidates and ``choices`` (``{"positive": "12"}``, from ``--bind positive=12`` or
``--slot positive=12``) settle it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from storybench.exceptions import WorkflowError
from storybench.render.comfyui.conditioning import conditioning_starts, follow_text
from storybench.render.comfyui.errors import BACKEND
from storybench.render.comfyui.image_roles import classify_images
from storybench.render.comfyui.loaders import loader_binding
from storybench.render.comfyui.references import MAX_REFERENCES, REFERENCE_SLOTS, reference_order
from storybench.render.comfyui.slot_rules import (
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

__all__ = ["SLOT_WORDS", "Ambiguity", "Candidate", "SlotInference", "infer_bindings", "infer_slots"]

_GRAPH_BOUND = ("positive", "negative", *SAMPLER_SLOTS, "guidance", "width", "height", *REFERENCE_SLOTS)


def _model_files(g: WorkflowGraph) -> list[tuple[str, str, str]]:
    """Every model file input of the workflow: ``(node id, input, file)``."""
    found = []
    for nid in g.nodes:
        found += [(nid, k, v) for k, v in g.inputs(nid).items() if k in MODEL_INPUTS and isinstance(v, str)]
    return found


class _Inferrer:
    def __init__(self, workflow: Mapping[str, Any], choices: Mapping[str, str]) -> None:
        if not isinstance(workflow, Mapping) or not workflow:
            raise WorkflowError(BACKEND, "slot inference needs an API-format workflow (a JSON object of nodes)")
        self.g = WorkflowGraph(workflow)
        self.result = SlotInference()
        self.choices = {k: self._node_ref(k, str(v)) for k, v in choices.items()}
        self.sampler: str | None = None

    def _node_ref(self, slot: str, ref: str) -> str:
        if slot not in SLOT_NAMES:
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

    def _chosen_sampler(self, reaching: list[str]) -> str | None:
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
        return None

    def pick_sampler(self) -> str | None:
        samplers = [n for n in self.g.nodes if self.g.cls(n) in SAMPLERS]
        outs = set(self.outputs())
        reaching = [s for s in samplers if self.g.downstream(s) & outs] or samplers
        if len(reaching) <= 1:
            return reaching[0] if reaching else None
        chosen = self._chosen_sampler(reaching)
        if chosen is None:
            self.result.ambiguities.append(
                Ambiguity(
                    "seed",
                    f"{len(reaching)} samplers reach the output (e.g. a base and a refiner); "
                    "name the sampler whose prompt and seed storybench sets",
                    [self.g.candidate(s) for s in reaching],
                )
            )
        return chosen

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
        self.put("seed", g.literal_input(sampler, ("seed", "noise_seed")))
        if g.cls(sampler) == "SamplerCustomAdvanced":
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
    def prompts(self, sampler: str) -> None:
        g = self.g
        pos_link, neg_link, taker = conditioning_starts(g, sampler)
        pos = follow_text(g, pos_link)
        walked = " → ".join(f"{n} {g.cls(n)}" for n in [taker, *pos.visited])
        self.result.prompt_trace = f"followed the positive conditioning from {walked}"
        if pos.text_node is not None:
            self.put("positive", g.literal_input(pos.text_node, TEXT_INPUTS))
        self.guidance(pos.guidance, pos.text_node)
        neg = follow_text(g, neg_link)
        if neg.text_node is not None and not neg.zeroed and neg.text_node != pos.text_node:
            self.put("negative", g.literal_input(neg.text_node, TEXT_INPUTS))
        elif neg_link is not None:
            self.result.notes.append(
                "the negative conditioning is zeroed or shared with the positive: no negative slot"
            )

    def guidance(self, met: str | None, text_node: str | None) -> None:
        """FLUX guidance: met on the positive's way, else on the text node (``CLIPTextEncodeFlux``)."""
        if met is None and text_node is not None and "guidance" in self.g.inputs(text_node):
            met = text_node
        if met is not None:
            self.put("guidance", self.g.literal_input(met, ("guidance",)))

    def prompt_from_output(self, output: str) -> None:
        """Without a sampler (an API node makes the picture): the first node upstream of the
        output with a literal text input holds the prompt."""
        g = self.g
        for nid in [output, *g.upstream(output)]:
            where = g.literal_input(nid, TEXT_INPUTS)
            if where is not None and isinstance(g.inputs(where[0]).get(where[1]), str):
                self.put("positive", where)
                self.put("negative", g.literal_input(nid, ("negative_prompt",)))
                break
        self.result.prompt_trace = f"looked upstream of the output {output} {g.cls(output)} (no sampler)"

    # ---------------------------------------------------------------- size, images, models
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

    def images(self, goal: str | None) -> None:
        g = self.g
        self.result.images = classify_images(g, {goal} if goal else set())
        loads = reference_order(g, [i.node_id for i in self.result.images if i.role == "reference"])
        if any(slot in self.choices for slot in REFERENCE_SLOTS):
            return
        for slot, nid in zip(REFERENCE_SLOTS, loads, strict=False):
            self.put(slot, (nid, "image"))
        if len(loads) > MAX_REFERENCES:
            self.result.notes.append(
                f"{len(loads)} reference image inputs; storybench fills the first {MAX_REFERENCES} "
                f"(nodes {', '.join(loads[:MAX_REFERENCES])})"
            )

    def denoise(self, sampler: str) -> None:
        g = self.g
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
        self.result.models = _model_files(g)
        starts = (sampler, output, self.result.slots.get("positive", {}).get("node"))
        used = [n for start in starts if start is not None for n in (start, *g.upstream(start))]
        for nid in dict.fromkeys(used):
            for binding, name in loader_binding(g.cls(nid), g.inputs(nid)):
                self.put(binding, g.literal_input(nid, (name,)), keep=True)

    # ---------------------------------------------------------------- titles and choices
    def _place(self, slot: str, nid: str) -> tuple[str, str] | None:
        """Where on node ``nid`` binding ``slot`` lives (its input, or its one literal input)."""
        if slot == "output":
            return nid, ""
        where = self.g.literal_input(nid, SLOT_INPUTS.get(slot, ()))
        if where is None:
            literals = [k for k, v in self.g.inputs(nid).items() if not is_link(v)]
            where = (nid, literals[0]) if len(literals) == 1 else None
        return where

    def _titled_places(self) -> dict[str, list[tuple[str, str]]]:
        """Binding → the places of the nodes titled for it (``positive``, ``Negative Prompt``...)."""
        g = self.g
        titled: dict[str, list[tuple[str, str]]] = {}
        for nid in g.nodes:
            slot = TITLE_ALIASES.get(re.sub(r"[\s_-]+", " ", g.title(nid).strip().lower()))
            if slot is None or slot in self.choices:
                continue
            where = self._place(slot, nid)
            if where is None:
                self.result.notes.append(f"node {nid} is titled {g.title(nid)!r} but has no input for slot {slot}")
            else:
                titled.setdefault(slot, []).append(where)
        return titled

    def titled(self) -> None:
        feeding = [*self.g.upstream(self.sampler), self.sampler] if self.sampler is not None else []
        for slot, places in self._titled_places().items():
            self._settle_titled(slot, _feeding_first(places, feeding))

    def _settle_titled(self, slot: str, places: list[tuple[str, str]]) -> None:
        """Bind ``slot`` to its one titled place, or record the ambiguity of several."""
        current = self.result.slots.get(slot, {})
        if len(places) > 1:
            self.result.ambiguities.append(
                Ambiguity(slot, f"{len(places)} nodes are titled for it", [self.g.candidate(p[0]) for p in places])
            )
        elif (current.get("node"), current.get("input", "")) != places[0]:
            self.put(slot, places[0], "title")

    def chosen(self) -> None:
        for slot, nid in self.choices.items():
            where = self._place(slot, nid)
            if where is None:
                raise WorkflowError(
                    BACKEND,
                    f"--slot {slot}={nid}: node {nid} ({self.g.cls(nid)}) has no input for {slot} "
                    f"(looked for {', '.join(SLOT_INPUTS.get(slot, ())) or 'one literal input'}; "
                    f"inputs: {', '.join(self.g.inputs(nid))})",
                )
            self.put(slot, where, "choice")
        settled = {a.slot for a in self.result.ambiguities if a.slot in self.result.slots}
        self.result.ambiguities = [a for a in self.result.ambiguities if a.slot not in settled]

    def from_sampler(self, sampler: str) -> None:
        self.sampler_settings(sampler)
        self.prompts(sampler)
        self.size(self.g.source(sampler, "latent_image"), from_output=False)
        self.images(sampler)
        self.denoise(sampler)
        if "width" not in self.result.slots and "reference_image" in self.result.slots:
            self.result.notes.append(
                "no width/height input: the picture takes the reference image's size (the character sheet's)"
            )

    def run(self) -> SlotInference:
        sampler = self.sampler = self.pick_sampler()
        output = self.pick_output(sampler)
        self._from_graph(sampler, output)
        self.models(sampler, output)
        self.titled()
        self.chosen()
        self._filename_prefix()
        if any(a.slot == "seed" for a in self.result.ambiguities):
            self._drop_graph_bound()
        return self.result

    def _from_graph(self, sampler: str | None, output: str | None) -> None:
        """The bindings found by walking from the sampler (else back from the output node)."""
        if sampler is not None:
            self.from_sampler(sampler)
        elif output is not None and not self.result.ambiguities:
            self.prompt_from_output(output)
            self.size(output, from_output=True)
            self.images(output)
        if output is not None:
            self.put("output", (output, ""))

    def _filename_prefix(self) -> None:
        """Bind ``filename_prefix`` to the output node's input, when not bound yet."""
        final = self.result.slots.get("output", {}).get("node")
        if final is not None and "filename_prefix" not in self.result.slots:
            self.put("filename_prefix", self.g.literal_input(final, ("filename_prefix",)))

    def _drop_graph_bound(self) -> None:
        """Prompts and settings depend on the sampler: without one, keep only what is unambiguous."""
        for slot in [s for s in _GRAPH_BOUND if self.result.how.get(s) == "graph"]:
            self.result.slots.pop(slot, None)
            self.result.how.pop(slot, None)


def _feeding_first(places: list[tuple[str, str]], feeding: list[str]) -> list[tuple[str, str]]:
    """Of several places, those on nodes feeding the sampler (when any are); else all of them."""
    if len(places) > 1 and feeding:
        return [p for p in places if p[0] in feeding] or places
    return places


def infer_slots(workflow: Mapping[str, Any], choices: Mapping[str, str] | None = None) -> SlotInference:
    """Work out a workflow's bindings ("slots") by following its graph.

    Args:
        workflow: an API-format workflow.
        choices: binding → node id or title that settles an ambiguity or overrides the
            graph (``{"positive": "12"}``, from ``--bind positive=12``). A choice for a
            prompt or sampler setting also picks the sampler it feeds.

    Returns:
        The bindings found, how each was found, the ambiguities left, the image loaders and
        what each is for, and the models used.

    Raises:
        WorkflowError: not a workflow, or a choice that names no node / an unknown binding.
    """
    return _Inferrer(workflow, choices or {}).run()


#: the same as :func:`infer_slots`, named for what it finds (role → node bindings).
infer_bindings = infer_slots


def reaches(workflow: Mapping[str, Any], start: str, goal: str) -> bool:
    """True when node ``start``'s outputs reach node ``goal`` (``start == goal`` counts)."""
    g = WorkflowGraph(workflow)
    return start in g.nodes and goal in g.downstream(start)
