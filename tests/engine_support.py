"""Test helpers for the batch engine: small plans, fake backends and a plain Pillow composer."""

from __future__ import annotations

import copy
import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from plan_factory import build_plan

from storybench.batch import Composer
from storybench.config import RenderSettings
from storybench.files import atomic_write_bytes
from storybench.plan import panel_rects, parse_plan
from storybench.render.base import ImageBackend
from storybench.render.spec import RenderResult, RenderSpec

CHARACTERS = [
    {"id": "mara", "name": "Mara", "appearance": "tall woman, short black hair", "clothing": "trench coat"},
    {"id": "joe", "name": "Joe", "appearance": "old man, grey beard", "clothing": ""},
]


def street_panel(n: int, k: int) -> dict[str, Any]:
    """Panel ``k`` of page ``n``: Mara, Joe, both or nobody by turns, the first one speaking."""
    cast = [["mara"], ["mara", "joe"], ["joe"], []][(n + k) % 4]
    return {
        "id": f"p{n}-pan{k}",
        "characters": cast,
        "action": f"action {n}.{k}",
        "location": "rainy street at night",
        "mood": "tense",
        "camera": "medium shot",
        "dialogue": [{"character": cast[0], "text": f"line {n}.{k}"}] if cast else [],
    }


def plan_dict(
    plan_id: str = "test-comic", layouts: tuple[str, ...] = ("grid-2x2", "three-rows", "single"), style: str = "noir"
) -> dict:
    """A valid plan dict: one chapter, one page per layout, two characters."""
    return build_plan(
        layouts, panel=street_panel, characters=CHARACTERS, plan_id=plan_id, title="Test Comic", style=style
    )


def make_plan(**kw: Any):
    return parse_plan(plan_dict(**kw))


def edited(plan_data: dict, page: int, panel: int, **fields: Any) -> dict:
    """A copy of ``plan_data`` with fields of one panel (1-based page and panel) replaced."""
    data = copy.deepcopy(plan_data)
    data["chapters"][0]["pages"][page - 1]["panels"][panel - 1].update(fields)
    return data


def small_settings(**kw: Any) -> RenderSettings:
    base = dict(
        page_width=400,
        page_height=600,
        margin=20,
        gutter=10,
        border=2,
        panel_max_side=128,
        dpi=72,
        backoff_seconds=0.001,
        concurrency=2,
    )
    base.update(kw)
    return RenderSettings(**base)


def png_for(spec: RenderSpec, fmt: str = "PNG") -> bytes:
    digest = hashlib.sha256((spec.prompt + str(spec.seed) + str(sorted(spec.params.items()))).encode()).digest()
    img = Image.new("RGB", (max(8, spec.width // 8), max(8, spec.height // 8)), tuple(digest[:3]))
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


class FakeBackend(ImageBackend):
    """Renders a flat colour per spec after ``delay`` seconds.

    ``failures`` maps a panel id (or ``"sheet:<char id>"``) to a list of exceptions
    raised by successive calls before it succeeds.
    """

    name = "fake"
    version = "1"
    default_concurrency = 2

    def __init__(
        self,
        delay: float = 0.002,
        failures: Mapping[str, list[BaseException]] | None = None,
        metrics: dict | None = None,
        fmt: str = "PNG",
        preflight_error: BaseException | None = None,
    ) -> None:
        self.delay = delay
        self.failures = {k: list(v) for k, v in (failures or {}).items()}
        self.metrics = metrics or {}
        self.fmt = fmt
        self.preflight_error = preflight_error
        self.calls: list[RenderSpec] = []
        self.preflight_calls: list[list[RenderSpec]] = []
        self.cancelled = False
        self.closed = False
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def _name(self, spec: RenderSpec) -> str:
        return spec.panel_id or f"sheet:{spec.cast[0].id}"

    def preflight(self, specs):
        self.preflight_calls.append(list(specs))
        if self.preflight_error is not None:
            raise self.preflight_error
        return {"checked": len(specs)}

    def render(self, spec: RenderSpec) -> RenderResult:
        with self._lock:
            self.calls.append(spec)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            queue = self.failures.get(self._name(spec))
            error = queue.pop(0) if queue else None
        try:
            time.sleep(self.delay)
            if error is not None:
                raise error
            data = png_for(spec, self.fmt)
            return RenderResult(image=data, width=spec.width // 8, height=spec.height // 8, metrics=dict(self.metrics))
        finally:
            with self._lock:
                self.in_flight -= 1

    def rendered_ids(self) -> list[str]:
        return sorted(self._name(s) for s in self.calls)

    def cancel(self) -> None:
        self.cancelled = True

    def close(self) -> None:
        self.closed = True


class ReferenceBackend(FakeBackend):
    """A fake backend that accepts character sheets as reference images."""

    name = "fake-ref"
    supports_reference_images = True


class SimpleComposer:
    """Plain Pillow page composition and export, counting calls."""

    version = "simple-1"

    def __init__(self) -> None:
        self.pages_composed: list[int] = []
        self.exports: list[str] = []
        self._lock = threading.Lock()

    def compose_page(self, plan, page, panel_images, settings: RenderSettings):
        rtl = settings.reading_direction == "rtl"
        rects = panel_rects(
            page.layout,
            settings.page_width,
            settings.page_height,
            margin=settings.margin,
            gutter=settings.gutter,
            rtl=rtl,
        )
        canvas = Image.new("RGB", (settings.page_width, settings.page_height), "white")
        draw = ImageDraw.Draw(canvas)
        for panel in page.panels:
            rect = rects[panel.position - 1]
            src = panel_images[panel.id]
            with Image.open(src) if not isinstance(src, Image.Image) else src as img:
                canvas.paste(img.convert("RGB").resize((rect.width, rect.height)), (rect.x0, rect.y0))
            for line in panel.dialogue:
                draw.text((rect.x0 + 4, rect.y0 + 4), line.text, fill="black")
        with self._lock:
            self.pages_composed.append(page.page_number)
        return canvas

    def save_page_png(self, image, path, *, dpi):
        out = io.BytesIO()
        image.save(out, format="PNG", dpi=(dpi, dpi))
        return atomic_write_bytes(path, out.getvalue())

    def export_pdf(self, page_paths, path, *, dpi, title, language, **options):
        images = [Image.open(p).convert("RGB") for p in page_paths]
        out = io.BytesIO()
        images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi, title=title)
        self.exports.append("pdf")
        return atomic_write_bytes(path, out.getvalue())

    def export_cbz(self, page_paths, path, *, plan, **options):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for p in page_paths:
                zf.write(p, Path(p).name)
            zf.writestr("ComicInfo.xml", f"<ComicInfo><Title>{plan.title}</Title></ComicInfo>")
        self.exports.append("cbz")
        return atomic_write_bytes(path, out.getvalue())

    def composer(self) -> Composer:
        return Composer(self.compose_page, self.save_page_png, self.export_pdf, self.export_cbz, self.version)


def decodes(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:
        return False
