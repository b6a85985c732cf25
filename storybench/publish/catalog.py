"""Catalog rows of a publish: kinds ``character``, ``media`` and ``post``.

Rows go to ``<catalog_dir>/catalog.parquet`` through
:func:`storybench.batch.catalog.upsert_catalog_rows`, keyed like every catalog row by
``(run_id, kind, artifact_id)`` with ``artifact_id = "<world_id>/<ledger key>"``, so
a rerun replaces rows instead of adding them. They are rebuilt from the ledger (the
source of truth) at the end of each publish.

Columns used: ``run_id`` (the run, or the story id), ``plan_id`` (the plan or story
id), ``page_number`` (posts and page media), ``artifact_id``, ``kind``, ``backend``
(the target's name), ``path`` (the published file, relative to the catalog folder),
``sha256``, ``bytes``, ``status`` (``completed`` when the platform has the object,
``processing`` for an interrupted step), ``attempts``, ``finished_at``, ``prompt``
(a post's caption), and ``metrics``: JSON with ``platform_id`` (the platform's id of
the object), ``world_id``, ``target`` and, for posts, ``media_id`` and ``tags``.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any

from storybench.batch.catalog import metrics_json, upsert_catalog_rows
from storybench.publish.ledger import LedgerData
from storybench.publish.planning import PublishPlan

__all__ = ["catalog_rows", "write_catalog_rows"]


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _rel(plan: PublishPlan, path: os.PathLike[str] | str) -> str:
    try:
        return os.path.relpath(path, plan.catalog_dir)
    except ValueError:
        return str(path)


def _page(key: str) -> int | None:
    match = re.search(r"page-(\d+)$", key)
    return int(match.group(1)) if match else None


def catalog_rows(plan: PublishPlan, data: LedgerData, target_name: str) -> list[dict[str, Any]]:
    """The catalog rows of everything in the ledger ``data`` that belongs to ``plan``."""
    base = {"run_id": plan.run_id, "plan_id": plan.source_id, "backend": target_name}
    where = {"world_id": data.world_id, "target": data.target}
    files: dict[str, tuple[str, int | None]] = {}
    for c in plan.characters:
        files[c.media_key] = (_rel(plan, c.avatar.out_path), None)
    for p in plan.posts:
        files[p.media_key] = (_rel(plan, p.image), p.number if plan.kind == "run" else None)
    rows: list[dict[str, Any]] = []
    for key, ch in data.characters.items():
        media = data.media.get(ch.avatar)
        rows.append(
            {
                **base,
                "kind": "character",
                "artifact_id": f"{data.world_id}/{key}",
                "status": "completed" if ch.state == "created" else "processing",
                "prompt": ch.display_name,
                "path": files.get(ch.avatar, ("", None))[0] or None,
                "sha256": media.sha256 if media else None,
                "finished_at": _time(ch.updated_at),
                "metrics": metrics_json(
                    {**where, "platform_id": ch.platform_id, "avatar_media_id": media.media_id if media else ""}
                ),
            }
        )
    for key, m in data.media.items():
        path, page = files.get(key, ("", _page(key)))
        rows.append(
            {
                **base,
                "kind": "media",
                "artifact_id": f"{data.world_id}/{key}",
                "page_number": page,
                "status": "completed" if m.state == "confirmed" else "processing",
                "path": path or None,
                "sha256": m.sha256,
                "bytes": m.bytes,
                "attempts": m.attempts,
                "finished_at": _time(m.updated_at),
                "metrics": metrics_json({**where, "platform_id": m.media_id, "variants": m.variants}),
            }
        )
    for key, rec in data.posts.items():
        media = data.media.get(rec.media)
        path, page = files.get(rec.media, ("", _page(rec.media)))
        rows.append(
            {
                **base,
                "kind": "post",
                "artifact_id": f"{data.world_id}/{key}",
                "page_number": page,
                "status": "completed" if rec.state == "posted" else "processing",
                "prompt": rec.caption,
                "path": path or None,
                "sha256": media.sha256 if media else None,
                "finished_at": _time(rec.updated_at),
                "metrics": metrics_json(
                    {**where, "platform_id": rec.post_id, "media_id": media.media_id if media else "", "tags": rec.tags}
                ),
            }
        )
    return rows


def write_catalog_rows(plan: PublishPlan, data: LedgerData, target_name: str) -> int:
    """Upsert :func:`catalog_rows` into ``plan.catalog_dir``; returns how many rows were written."""
    rows = catalog_rows(plan, data, target_name)
    if rows:
        upsert_catalog_rows(plan.catalog_dir, rows)
    return len(rows)
