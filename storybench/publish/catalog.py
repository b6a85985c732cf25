"""Catalog rows of a publish: kinds ``character``, ``media`` and ``post``.

Rows are :class:`~storybench.batch.catalog_row.CatalogRow` records written to
``<catalog_dir>/catalog.parquet`` through :func:`storybench.batch.catalog.upsert_catalog_rows`,
keyed like every catalog row by ``(run_id, kind, artifact_id)`` with
``artifact_id = "<world_id>/<ledger key>"``, so a rerun replaces rows instead of adding
them. They are rebuilt from the ledger (the source of truth) at the end of each publish.

Columns used: ``run_id`` (the run, or the story id), ``plan_id`` (the plan or story
id), ``page_number`` (posts and page media of a run), ``artifact_id``, ``kind``,
``backend`` (the target's name), ``platform_id`` (the platform's id of the character,
media or post), ``path`` (the published file, relative to the catalog folder),
``sha256``, ``bytes``, ``status`` (``completed`` when the platform has the object,
``processing`` for an interrupted step), ``attempts``, ``finished_at``, ``prompt``
(a character's display name, a post's caption), and ``metrics``: JSON with
``world_id``, ``target`` and, for characters, the avatar's media id, for media the
variants, for posts the media id and tags.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from storybench.batch.catalog import upsert_catalog_rows
from storybench.batch.catalog_row import CatalogRow, metrics_json
from storybench.publish.ledger import LedgerData
from storybench.publish.planning import PublishPlan

__all__ = ["catalog_rows", "write_catalog_rows"]

R = TypeVar("R")


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _rel(plan: PublishPlan, path: Path) -> str:
    try:
        return Path(os.path.relpath(path, plan.catalog_dir)).as_posix()
    except ValueError:  # another drive
        return str(path)


def _page(key: str) -> int | None:
    match = re.search(r"page-(\d+)(#|$)", key)
    return int(match.group(1)) if match else None


def _row(plan: PublishPlan, data: LedgerData, target_name: str, kind: str, key: str) -> CatalogRow:
    return CatalogRow(
        run_id=plan.run_id,
        plan_id=plan.source_id,
        kind=kind,
        artifact_id=f"{data.world_id}/{key}",
        backend=target_name,
    )


def _plan_keys(plan: PublishPlan) -> set[str]:
    """The ledger keys of ``plan`` as it is now (the ledger may hold earlier versions of a page)."""
    keys = {c.key for c in plan.characters} | {p.record_key for p in plan.posts}
    return keys | {c.media_key for c in plan.characters} | {p.media_key for p in plan.posts}


def _only(records: dict[str, R], keys: set[str]) -> dict[str, R]:
    return {k: v for k, v in records.items() if k in keys}


@dataclass(frozen=True)
class _Rows:
    """What every catalog row of one publish is built from."""

    plan: PublishPlan
    data: LedgerData
    target_name: str

    @property
    def where(self) -> dict[str, str]:
        return {"world_id": self.data.world_id, "target": self.data.target}

    @property
    def files(self) -> dict[str, str]:
        files = {c.media_key: _rel(self.plan, c.avatar.out_path) for c in self.plan.characters}
        files.update({p.media_key: _rel(self.plan, p.image) for p in self.plan.posts})
        return files

    def page(self, media_key: str) -> int | None:
        return _page(media_key) if self.plan.kind == "run" else None

    def row(self, kind: str, key: str) -> CatalogRow:
        return _row(self.plan, self.data, self.target_name, kind, key)

    def character(self, key: str, ch: Any, files: dict[str, str]) -> CatalogRow:
        avatar = self.data.media.get(ch.avatar)
        return replace(
            self.row("character", key),
            platform_id=ch.platform_id or None,
            status="completed" if ch.state == "created" else "processing",
            prompt=ch.display_name,
            path=files.get(ch.avatar),
            sha256=avatar.sha256 if avatar else None,
            finished_at=_time(ch.updated_at),
            metrics=metrics_json({**self.where, "avatar_media_id": avatar.media_id if avatar else ""}),
        )

    def media(self, key: str, m: Any, files: dict[str, str]) -> CatalogRow:
        return replace(
            self.row("media", key),
            platform_id=m.media_id or None,
            page_number=self.page(key),
            status="completed" if m.state == "confirmed" else "processing",
            path=files.get(key),
            sha256=m.sha256,
            bytes=m.bytes,
            attempts=m.attempts,
            finished_at=_time(m.updated_at),
            metrics=metrics_json({**self.where, "variants": m.variants}),
        )

    def post(self, key: str, post: Any, files: dict[str, str]) -> CatalogRow:
        media = self.data.media.get(post.media)
        return replace(
            self.row("post", key),
            platform_id=post.post_id or None,
            page_number=self.page(post.media),
            status="completed" if post.state == "posted" else "processing",
            prompt=post.caption,
            path=files.get(post.media),
            sha256=media.sha256 if media else None,
            finished_at=_time(post.updated_at),
            metrics=metrics_json({**self.where, "media_id": media.media_id if media else "", "tags": post.tags}),
        )


def catalog_rows(plan: PublishPlan, data: LedgerData, target_name: str) -> list[CatalogRow]:
    """The catalog rows of what the ledger ``data`` holds of ``plan`` (its characters, and its
    posts and images as they are now)."""
    rows = _Rows(plan, data, target_name)
    keys, files = _plan_keys(plan), rows.files
    return (
        [rows.character(k, ch, files) for k, ch in _only(data.characters, keys).items()]
        + [rows.media(k, m, files) for k, m in _only(data.media, keys).items()]
        + [rows.post(k, post, files) for k, post in _only(data.posts, keys).items()]
    )


def write_catalog_rows(plan: PublishPlan, data: LedgerData, target_name: str) -> int:
    """Upsert :func:`catalog_rows` into ``plan.catalog_dir``; returns how many rows were written."""
    rows = catalog_rows(plan, data, target_name)
    if rows:
        upsert_catalog_rows(plan.catalog_dir, rows)
    return len(rows)
