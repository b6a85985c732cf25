"""Font families: which file a family name means, and the loaded font (cached).

A family name is one of:

* ``"Roboto-<Weight>"`` (``"Roboto"`` alone is Regular) from the ``font-roboto`` package;
* ``"NotoSans"``, ``"NotoSans<Script>"`` (``"NotoSansArabic"``, ``"NotoSansHebrew"``...),
  ``"NotoSansSymbols"`` or ``"NotoEmoji"`` from the ``manimgx-fonts`` package, and
  ``"NotoSansCJK-<JP|KR|SC|TC|HK>"`` from ``manimgx-fonts-cjk``; each may end in a weight,
  ``"NotoSansArabic-Black"``, set on the variable font's ``wght`` axis;
* ``"DejaVuSans"`` (the Debian path, or matplotlib's copy);
* a path to a ``.ttf``/``.otf``/``.ttc`` file.

A name that is none of these, or whose package is not installed, means Roboto Medium,
then DejaVu Sans, then Pillow's built-in font (:func:`PIL.ImageFont.load_default`).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = ["DEFAULT_FAMILY", "WEIGHTS", "Font", "font_path", "get_font", "installed", "split_weight"]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
DEFAULT_FAMILY = "Roboto-Medium"

#: Weight names of family names, as values of a variable font's ``wght`` axis (CSS / OpenType).
WEIGHTS = {
    "Thin": 100,
    "ExtraLight": 200,
    "Light": 300,
    "Regular": 400,
    "Medium": 500,
    "SemiBold": 600,
    "Bold": 700,
    "ExtraBold": 800,
    "Black": 900,
}

_DEJAVU_DEBIAN = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
#: Faces of Noto Sans CJK's collection file, by region, in the order Noto ships them.
CJK_FACES = ("JP", "KR", "SC", "TC", "HK")


def _package_dir(package: str, sub: str = "") -> Path | None:
    """The folder of an installed font package (``None`` when it is not installed)."""
    if importlib.util.find_spec(package) is None:
        return None
    try:
        root = importlib.resources.files(package)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - broken install
        return None
    path = Path(str(root / sub)) if sub else Path(str(root))
    return path if path.is_dir() else None


def _dejavu() -> Path | None:
    for candidate in _DEJAVU_DEBIAN:
        if os.path.isfile(candidate):
            return Path(candidate)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        p = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if p.is_file():
            return p
    return None


def split_weight(family: str) -> tuple[str, str | None]:
    """``"NotoSansArabic-Black"`` → ``("NotoSansArabic", "Black")``; no known weight → ``(family, None)``."""
    base, _, weight = family.rpartition("-")
    if base and weight in WEIGHTS:
        return base, weight
    return family, None


def _roboto(family: str) -> Path | None:
    roboto = _package_dir("font_roboto", "files")
    if roboto is None:
        return None
    name = family if family.startswith("Roboto") else DEFAULT_FAMILY
    if name == "Roboto":
        name = "Roboto-Regular"
    for candidate in (roboto / f"{name}.ttf", roboto / f"{DEFAULT_FAMILY}.ttf", roboto / "Roboto-Regular.ttf"):
        if candidate.is_file():
            return candidate
    return None


def _noto(base: str) -> Path | None:
    if base.startswith("NotoSansCJK"):
        folder = _package_dir("manimgx_fonts_cjk")
        path = folder / "NotoSansCJK-VF.otf.ttc" if folder is not None else None
    else:
        folder = _package_dir("manimgx_fonts")
        path = folder / f"{base}[wght].ttf" if folder is not None else None
    return path if path is not None and path.is_file() else None


@lru_cache(maxsize=128)
def font_path(family: str) -> Path | None:
    """The font file used for ``family``, or ``None`` when only Pillow's built-in font is left.

    Args:
        family: a family name (see the module doc) or a font file path.

    Returns:
        The file; for an unknown or uninstalled family, Roboto Medium's (or DejaVu Sans').
    """
    if family.lower().endswith((".ttf", ".otf", ".ttc")) and os.path.isfile(family):
        return Path(family)
    base, _ = split_weight(family)
    if base.startswith("Noto"):
        noto = _noto(base)
        if noto is not None:
            return noto
    if base == "DejaVuSans":
        dejavu = _dejavu()
        if dejavu is not None:
            return dejavu
    return _roboto(family) or _dejavu()


def installed(family: str) -> bool:
    """Whether ``family`` has its own font file here (rather than falling back to another family)."""
    if family.lower().endswith((".ttf", ".otf", ".ttc")):
        return os.path.isfile(family)
    base, _ = split_weight(family)
    if base.startswith("Noto"):
        return _noto(base) is not None
    if base == "DejaVuSans":
        return _dejavu() is not None
    return base.startswith("Roboto") and _roboto(family) is not None


def _face_index(family: str, path: Path) -> int:
    """The face of a collection file: Noto Sans CJK's region (``-JP`` is face 0)."""
    if path.suffix.lower() != ".ttc":
        return 0
    base, _ = split_weight(family)
    region = base.rpartition("-")[2]
    return CJK_FACES.index(region) if region in CJK_FACES else 0


def _set_weight(font: ImageFont.FreeTypeFont, weight: str | None) -> None:
    """Set a variable font's ``wght`` axis to ``weight`` (Regular when ``None``); static fonts are left as they are."""
    try:
        axes = font.get_variation_axes()
    except OSError:  # not a variable font
        return
    values: list[float] = []
    for axis in axes:
        raw = axis["name"]
        name = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        low, high, default = float(axis["minimum"] or 0), float(axis["maximum"] or 0), float(axis["default"] or 0)
        wanted = WEIGHTS[weight or "Regular"] if name.lower() == "weight" else default
        values.append(min(max(wanted, low), high))
    font.set_variation_by_axes(values)


@lru_cache(maxsize=512)
def get_font(family: str, size: int) -> Font:
    """A loaded font (cached per family and size).

    Args:
        family: see :func:`font_path`.
        size: font size in pixels (em size), at least 1.

    Returns:
        A Pillow font at the family's weight; the built-in one when no font file can be
        found or read.
    """
    size = max(1, int(size))
    path = font_path(family)
    if path is not None:
        try:
            font = ImageFont.truetype(str(path), size, index=_face_index(family, path))
        except OSError:
            pass
        else:
            if split_weight(family)[0].startswith("Noto"):
                _set_weight(font, split_weight(family)[1])
            return font
    return ImageFont.load_default(size)
