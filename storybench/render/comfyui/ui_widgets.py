"""The widgets ComfyUI's frontend gives a node, and the values a UI-format node's
``widgets_values`` puts into them.

The rules are those of ComfyUI's frontend (``comfyui-frontend-package`` 1.27, the version
ComfyUI 0.3.64 pins; checked against it for every official workflow template by
``tests/comfyui/test_comfyui_templates.py``):

- a node gets one widget per widget input of its class in ``/object_info`` order (``input_order``:
  required, then optional): ``INT``, ``FLOAT``, ``STRING``, ``BOOLEAN``, ``COMBO`` or a list of
  options, not ``forceInput``;
- an ``INT`` widget with ``control_after_generate`` in its options, or named ``seed`` or
  ``noise_seed`` when the option is absent (``useIntWidget``), and a combo with
  ``control_after_generate`` (``addComboWidget``), is followed by a ``control_after_generate``
  widget. It takes the next place of ``widgets_values`` whatever that holds (``"fixed"``,
  ``"randomize"``, or the ``true``/``false`` of old saves) and never reaches the prompt;
- a combo with ``remote.refresh_button`` is followed by an "Auto-refresh after generation" toggle
  (not in the prompt) and a ``refresh`` button whose value ``"refresh"`` is;
- an input with ``image_upload``/``video_upload``/``audio_upload`` adds an ``upload`` widget after
  the required inputs (in ``widgets_values``, not in the prompt); some frontend extensions add
  widgets of their own (:data:`EXTENSION_WIDGETS`);
- ``widgets_values`` fill the widgets in order; a widget left without a value keeps its default:
  the input's ``default``, else ``0`` (numbers), ``""``, ``false``, or a combo's first option;
- a list value is sent as ``{"__value__": [...]}``; a ``dynamicPrompts`` text widget's value goes
  through :func:`~storybench.render.comfyui.dynamic_prompts.process_dynamic_prompt`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storybench.render.comfyui.dynamic_prompts import process_dynamic_prompt

__all__ = [
    "EXTENSION_WIDGETS",
    "FRONTEND_TITLES",
    "WidgetSlot",
    "frontend_title",
    "node_widgets",
    "widget_values",
]

_WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
_UPLOAD_OPTIONS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload")
_EMPTY: dict[str, Any] = {}
_SEEDS = ("seed", "noise_seed")

#: widgets frontend extensions add to a class (after its required inputs): name → (the value the
#: prompt gets, takes a place in ``widgets_values``). ``Comfy.AudioWidget`` (``audioUI``, a DOM
#: widget with ``serialize = false``), ``Comfy.Preview3D`` and ``Comfy.SaveGLB`` (``image``),
#: ``Comfy.PreviewAny`` (``preview``).
EXTENSION_WIDGETS: dict[str, dict[str, tuple[Any, bool]]] = {
    **{
        cls: {"audioUI": ("", False)}
        for cls in ("LoadAudio", "SaveAudio", "PreviewAudio", "SaveAudioMP3", "SaveAudioOpus")
    },
    "Preview3D": {"image": ("", True)},
    "SaveGLB": {"image": ("", True)},
    "PreviewAny": {"preview": ("", True)},
}
#: input types that are widgets of a frontend extension (value ``""``).
_EXTENSION_TYPES = ("AUDIO_RECORD",)
#: the frontend's English titles of classes that ``/object_info`` (ComfyUI 0.3.64) sends without a
#: ``display_name`` and whose title is not the class name.
FRONTEND_TITLES = {
    "ImageBlend": "Image Blend",
    "ImageBlur": "Image Blur",
    "ImageQuantize": "Image Quantize",
    "ImageSharpen": "Image Sharpen",
    "ImageScaleToTotalPixels": "Scale Image to Total Pixels",
}


@dataclass(frozen=True)
class WidgetSlot:
    """One widget of a node, in the frontend's order.

    Attributes:
        name: the widget's name (the input name for an input's widget).
        default: its value when ``widgets_values`` gives none.
        in_prompt: the prompt carries it (``False`` for controls, toggles, upload buttons).
        saved: it takes a place in ``widgets_values``.
        owner: the input whose widget it follows (a control's seed), else its own name.
        dynamic: a text widget with ``dynamicPrompts`` (comments stripped, ``{a|b}`` chosen).
    """

    name: str
    default: Any
    in_prompt: bool = True
    saved: bool = True
    owner: str = ""
    dynamic: bool = False


def _options(spec: Any) -> Mapping[str, Any]:
    if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], Mapping):
        return spec[1]
    return _EMPTY


def _kind(spec: Any) -> str | None:
    """``INT``/``FLOAT``/``STRING``/``BOOLEAN``/``COMBO``, ``EXTENSION``, or ``None`` (a socket)."""
    if not isinstance(spec, (list, tuple)) or not spec or _options(spec).get("forceInput"):
        return None
    head = spec[0]
    if isinstance(head, list):
        return "COMBO"
    if head in _EXTENSION_TYPES:
        return "EXTENSION"
    return head if head in _WIDGET_TYPES else None


def _combo_values(spec: Any) -> list[Any]:
    head = spec[0]
    return list(head) if isinstance(head, list) else list(_options(spec).get("options") or [])


def _default(kind: str, spec: Any) -> Any:
    options = _options(spec)
    if kind == "COMBO":  # getDefaultValue: a falsy default falls back to the first option
        values = _combo_values(spec)
        return options.get("default") or (values[0] if values else None)
    fallback = {"INT": 0, "FLOAT": 0, "STRING": "", "BOOLEAN": False}.get(kind, "")
    value = options.get("default")
    return fallback if value is None else value


def _controls(name: str, kind: str, spec: Any) -> list[WidgetSlot]:
    """The widgets the frontend adds after an input's own widget."""
    options = _options(spec)
    extra: list[WidgetSlot] = []
    if kind == "COMBO" and (options.get("remote") or {}).get("refresh_button"):
        extra += [
            WidgetSlot("Auto-refresh after generation", False, in_prompt=False, owner=name),
            WidgetSlot("refresh", "refresh", owner=name),
        ]
    control = options.get("control_after_generate")
    if control is None and kind == "INT":
        control = name in _SEEDS
    if control and kind in ("INT", "COMBO"):
        extra.append(WidgetSlot("control_after_generate", "randomize", in_prompt=False, owner=name))
    return extra


def _section(info: Mapping[str, Any], section: str) -> list[tuple[str, Any]]:
    specs = (info.get("input") or {}).get(section) or {}
    order = (info.get("input_order") or {}).get(section) or list(specs)
    return [(name, specs[name]) for name in order if name in specs]


def node_widgets(class_type: str, info: Mapping[str, Any]) -> list[WidgetSlot]:
    """The widgets the frontend gives a node of ``class_type``, in ``widgets_values`` order.

    Args:
        class_type: the node's class.
        info: the class's entry in ``/object_info``.

    Returns:
        The widgets, controls and extension widgets included (see the module docstring).
    """
    slots: list[WidgetSlot] = []
    for section in ("required", "optional"):
        for name, spec in _section(info, section):
            kind = _kind(spec)
            if kind is not None:
                dynamic = kind == "STRING" and bool(_options(spec).get("dynamicPrompts"))
                slots.append(WidgetSlot(name, _default(kind, spec), owner=name, dynamic=dynamic))
                slots += _controls(name, kind, spec)
        if section == "required":
            required = _section(info, "required")
            if any(_options(spec).get(key) for _, spec in required for key in _UPLOAD_OPTIONS):
                slots.append(WidgetSlot("upload", "image", in_prompt=False))
            extension = EXTENSION_WIDGETS.get(class_type, {})
            slots += [WidgetSlot(n, value, saved=saved) for n, (value, saved) in extension.items()]
    return slots


def _forced(spec: Any) -> bool:
    return bool(_options(spec).get("forceInput"))


def _places(name: str, spec: Any) -> int:
    """Places an input took in old ``widgets_values``: 2 with a control, else 1."""
    return 2 if _options(spec).get("control_after_generate") or name in _SEEDS else 1


def _migrate(info: Mapping[str, Any], slots: Sequence[WidgetSlot], values: list[Any]) -> list[Any]:
    """The frontend's ``migrateWidgetsValues``: values saved when ``forceInput`` inputs still had
    widgets lose those places (a seed counted with its control)."""
    original = _original_inputs(info, {s.name for s in slots})
    if not _saved_with_forced(original, values):
        return values
    return [v for (_, spec), v in zip(original, values, strict=False) if not _forced(spec)]


def _original_inputs(info: Mapping[str, Any], names: set[str]) -> list[tuple[str, Any]]:
    """``(name, spec)`` of the inputs that had widgets in old files, in order: today's widget
    inputs (``names``) and the ``forceInput`` ones."""
    sections = [*_section(info, "required"), *_section(info, "optional")]
    return [(name, spec) for name, spec in sections if name in names or _forced(spec)]


def _saved_with_forced(original: list[tuple[str, Any]], values: list[Any]) -> bool:
    """Whether ``values`` hold places for ``forceInput`` inputs: there are some, and the places add up."""
    places = sum(_places(name, spec) for name, spec in original)
    return any(_forced(spec) for _, spec in original) and places == len(values)


def _stored(slots: list[WidgetSlot], values: list[Any], linked: frozenset[str]) -> list[WidgetSlot]:
    """The widgets ``widgets_values`` fills, in order; without the link-fed ones (and their
    controls) when the file left exactly those out."""
    stored = [s for s in slots if s.saved]
    without_linked = [s for s in stored if (s.owner or s.name) not in linked]
    if linked and len(values) == len(without_linked) < len(stored):
        return without_linked
    return stored


def widget_values(
    class_type: str, info: Mapping[str, Any], saved: Any, linked: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The prompt inputs a node's widgets give (before links replace some of them).

    Args:
        class_type: the node's class.
        info: the class's entry in ``/object_info``.
        saved: the node's ``widgets_values`` (a list; a mapping by name for some custom nodes).
        linked: names of widget inputs fed by a link; a file that left exactly those out of
            ``widgets_values`` (written by old frontends) is read without them.

    Returns:
        Input name → value, in widget order.
    """
    slots = node_widgets(class_type, info)
    if isinstance(saved, Mapping):
        return {s.name: saved.get(s.name, s.default) for s in slots if s.in_prompt}
    values = list(saved or [])
    stored = _stored(slots, values, linked)
    given = {id(s): v for s, v in zip(stored, _migrate(info, stored, values), strict=False)}
    return {s.name: _prompt_value(s, given.get(id(s), s.default)) for s in slots if s.in_prompt}


def _prompt_value(slot: WidgetSlot, value: Any) -> Any:
    """A widget's value as a prompt input: a dynamic prompt expanded, a list wrapped as ``{"__value__": [...]}``."""
    if slot.dynamic and isinstance(value, str):
        value = process_dynamic_prompt(value)
    return {"__value__": value} if isinstance(value, list) else value


def frontend_title(class_type: str, info: Mapping[str, Any]) -> str:
    """The title the frontend gives a node it has not been given one: the class's
    ``display_name``, else :data:`FRONTEND_TITLES`, else the class name."""
    return str(info.get("display_name") or FRONTEND_TITLES.get(class_type) or class_type)
