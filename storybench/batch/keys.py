"""Cache keys of a render's artifacts, as pure functions.

Every artifact of a run is content-addressed (:mod:`storybench.batch.cache`) by a
hex SHA-256 of everything that determines it:

- a character sheet or a panel: its render spec, the backend's name and
  :meth:`~storybench.render.base.ImageBackend.cache_identity`
  (:meth:`RenderSpec.cache_key <storybench.render.spec.RenderSpec.cache_key>`);
  a panel of a reference-capable backend also carries its first cast member's
  sheet: the sheet's path and, in ``params["reference_sha256"]``, its SHA-256,
  so a changed sheet changes the panel's key (:func:`panel_spec`, the one place
  that rule lives);
- a page: the composer version, the page JSON (lettering included), its chapter,
  the plan's id/title/style/language, the speakers' names, the page settings and
  its panels' SHA-256 (:func:`page_key`);
- a PDF or CBZ: the composer version, the kind, the DPI, the plan's
  id/title/language and its pages' SHA-256 (:func:`export_key`).

:class:`RunKeys` binds these to one run's plan, backend and settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storybench.batch.references import character_sheet_spec
from storybench.batch.run_folder import RunFolder
from storybench.config import RenderSettings
from storybench.plan.models import Chapter, Character, ComicPlan, Page, PanelPlan
from storybench.render.base import ImageBackend
from storybench.render.spec import RenderSpec

__all__ = [
    "KeyedSpec",
    "RunKeys",
    "export_key",
    "hash_json",
    "page_key",
    "panel_spec",
    "reference_of",
    "references_of",
    "render_key",
]


def hash_json(data: Any) -> str:
    """Hex SHA-256 of ``data`` as canonical JSON (sorted keys, no spaces, UTF-8;
    values JSON cannot hold are written with ``str``)."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def render_key(backend: ImageBackend, spec: RenderSpec) -> str:
    """Cache key of what ``backend`` renders for ``spec`` (a sheet or a panel)."""
    return spec.cache_key(backend.name, backend.cache_identity(spec))


def references_of(panel: PanelPlan, limit: int = 1) -> list[str]:
    """The characters whose sheets a panel carries as references, at most ``limit``:
    those who speak in it (in dialogue order), then the rest of its cast in panel order."""
    speakers = [d.character for d in panel.dialogue if d.character in panel.characters]
    return list(dict.fromkeys([*speakers, *panel.characters]))[: max(1, limit)]


def reference_of(panel: PanelPlan) -> str | None:
    """The first of :func:`references_of`, ``None`` for a panel without characters."""
    found = references_of(panel)
    return found[0] if found else None


@dataclass(frozen=True)
class KeyedSpec:
    """A panel's render spec with its reference attached, and its cache key.

    Attributes:
        spec: the spec to render (with ``reference_images`` when the panel has a sheet).
        key: the cache key, or ``None`` while the sheet's SHA-256 is not known yet
            (the sheet has to be rendered first); ``spec`` then carries the sheet's
            path without its hash, which is what a preflight needs to see.
    """

    spec: RenderSpec
    key: str | None

    def known(self) -> tuple[RenderSpec, str]:
        """``(spec, key)`` once the key is known.

        Raises:
            ValueError: the sheet's SHA-256 was not known (``key`` is ``None``).
        """
        if self.key is None:
            raise ValueError(f"the key of panel {self.spec.panel_id!r} waits for its character sheet")
        return self.spec, self.key


def panel_spec(
    backend: ImageBackend,
    spec: RenderSpec,
    panel: PanelPlan,
    sheet_sha: Mapping[str, str],
    sheets_dir: Path | None,
) -> KeyedSpec:
    """``spec`` of ``panel`` with its character sheet attached, and its cache key.

    Args:
        backend: the backend rendering it (its name and identity are in the key).
        spec: the panel's spec without reference (:func:`storybench.prompts.panel_render_spec`).
        panel: the panel (:func:`references_of`: its speakers' sheets first, at most the
            backend's ``max_reference_images``).
        sheet_sha: character id to the hex SHA-256 of that character's sheet, for
            the sheets known so far.
        sheets_dir: the run's ``characters/`` folder, ``None`` when the backend takes
            no reference images (the spec is then used as it is).
    """
    characters = references_of(panel, backend.max_reference_images)
    if sheets_dir is None or not characters:
        return KeyedSpec(spec, render_key(backend, spec))
    shas = [sheet_sha.get(c) for c in characters]
    known = all(shas)
    params = dict(spec.params)
    if known:
        params["reference_sha256"] = shas[0]
        if len(shas) > 1:  # one sheet keeps the key it always had
            params["reference_sha256s"] = shas
    paths = tuple(str(sheets_dir / f"{c}.png") for c in characters)
    spec = spec.model_copy(update={"reference_images": paths, "params": params})
    return KeyedSpec(spec, render_key(backend, spec) if known else None)


def page_key(
    plan: ComicPlan,
    chapter: Chapter,
    page: Page,
    panel_sha: Sequence[str],
    *,
    composer_version: str,
    settings: RenderSettings,
    rtl: bool,
) -> str:
    """Cache key of a composed page.

    Args:
        plan, chapter, page: where the page sits.
        panel_sha: hex SHA-256 of its panels' images, in panel order.
        composer_version: :attr:`Composer.version <storybench.batch.composer.Composer.version>`.
        settings: the render settings (page size in pixels, DPI, margin, gutter, border).
        rtl: panels are read right to left.
    """
    s = settings
    speakers = sorted(
        {d.character for p in page.panels for d in p.dialogue} | {c for p in page.panels for c in p.characters}
    )
    return hash_json(
        {
            "composer": composer_version,
            "page": page.model_dump(mode="json", by_alias=True),
            "chapter": {"id": chapter.id, "title": chapter.title},
            "plan": {"id": plan.id, "title": plan.title, "style": plan.style, "language": plan.language},
            "names": {cid: plan.character(cid).name for cid in speakers},
            "settings": {
                "page_width": s.page_width,
                "page_height": s.page_height,
                "dpi": s.dpi,
                "margin": s.margin,
                "gutter": s.gutter,
                "border": s.border,
                "rtl": rtl,
            },
            "panels": list(panel_sha),
        }
    )


def export_key(
    plan: ComicPlan,
    kind: str,
    page_sha: Sequence[str],
    *,
    composer_version: str,
    dpi: int,
    options: Mapping[str, Any] | None = None,
) -> str:
    """Cache key of an export (``kind`` ``"pdf"``, ``"cbz"``, ``"epub"``, ``"webtoon"``) of
    the pages whose images have the hex SHA-256 ``page_sha``, in reading order (a cover
    first), made with ``options`` (reading direction, author, quality...)."""
    data: dict[str, Any] = {
        "composer": composer_version,
        "kind": kind,
        "dpi": dpi,
        "plan": plan.id,
        "title": plan.title,
        "language": plan.language,
        "pages": list(page_sha),
    }
    if options:
        data["options"] = dict(options)
    return hash_json(data)


@dataclass(frozen=True)
class RunKeys:
    """The key functions above bound to one run.

    Attributes:
        plan: the plan.
        backend: the image backend.
        settings: the render settings.
        rtl: panels are read right to left.
        folder: the run's folder (where character sheets go).
        references: the backend takes reference images.
    """

    plan: ComicPlan
    backend: ImageBackend
    settings: RenderSettings
    rtl: bool
    folder: RunFolder
    references: bool

    @property
    def sheets_dir(self) -> Path | None:
        """The run's ``characters/`` folder, ``None`` when the backend takes no reference images."""
        return self.folder.sheets_dir if self.references else None

    def sheet(self, character: Character) -> str:
        """Cache key of ``character``'s reference sheet as the plan is now."""
        return render_key(self.backend, character_sheet_spec(self.plan, character, self.settings))

    def panel(self, spec: RenderSpec, panel: PanelPlan, sheet_sha: Mapping[str, str]) -> KeyedSpec:
        """:func:`panel_spec` of ``panel`` (``spec`` without reference)."""
        return panel_spec(self.backend, spec, panel, sheet_sha, self.sheets_dir)

    def page(self, chapter: Chapter, page: Page, panel_sha: Sequence[str], composer_version: str) -> str:
        """:func:`page_key` of ``page``."""
        return page_key(
            self.plan, chapter, page, panel_sha, composer_version=composer_version, settings=self.settings, rtl=self.rtl
        )

    def export(
        self, kind: str, page_sha: Sequence[str], composer_version: str, options: Mapping[str, Any] | None = None
    ) -> str:
        """:func:`export_key` of the ``kind`` export."""
        return export_key(
            self.plan, kind, page_sha, composer_version=composer_version, dpi=self.settings.dpi, options=options
        )
