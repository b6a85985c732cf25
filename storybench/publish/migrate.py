"""Ledgers of version 1 (kept in the run folder, keyed by the address) read into version 2.

Version 1 kept ``<run folder>/publish/<address>__<world>.ledger.json`` with posts and their
images keyed by page alone (``post:page-003``). A publish that finds no version-2 ledger
for its plan, world and platform, and exactly one version-1 ledger of the same world in the
run folder, takes its records over, so what was published before the upgrade is not
published again: characters as they were; a page's image and post under their content key
when the image recorded is the page as it is now (else under the old key, which no page
maps to any more, so a changed page is published anew). The old address is recorded, so
a publish through another address first reads the characters back (see
:mod:`storybench.publish.publisher`).
"""

from __future__ import annotations

import json
import logging
import re

from pydantic import ValidationError

from storybench.publish.ledger import LedgerData, PublishLedger
from storybench.publish.planning import PublishPlan

__all__ = ["import_v1_ledger"]

log = logging.getLogger(__name__)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"


def _read_v1(plan: PublishPlan, world_id: str) -> tuple[LedgerData, str] | None:
    found = sorted((plan.folder / "publish").glob(f"*__{_slug(world_id)}.ledger.json"))
    if len(found) > 1:
        log.warning(
            "%s: %d version-1 ledgers for world %s (several addresses); none is taken over",
            plan.folder,
            len(found),
            world_id,
        )
    if len(found) != 1:
        return None
    try:
        raw = json.loads(found[0].read_text(encoding="utf-8"))
        if raw.get("version") != 1:
            return None
        return LedgerData.model_validate(raw), str(found[0])
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("%s: not a readable version-1 ledger (%s); not taken over", found[0], exc)
        return None


def _take_media(data: LedgerData, old: LedgerData, plan: PublishPlan) -> None:
    """Old media records, under the new content-keyed media key where the page is unchanged."""
    current = {p.media_key.split("#", 1)[0]: p for p in plan.posts}
    for key, media in old.media.items():
        item = current.get(key)
        data.media[item.media_key if item is not None and media.sha256 == item.content else key] = media


def _take_posts(data: LedgerData, old: LedgerData, plan: PublishPlan) -> None:
    """Old post records: re-keyed to the plan's post records where the page is unchanged."""
    items = {p.key: p for p in plan.posts}
    for key, post in old.posts.items():
        item = items.get(key)
        image = old.media.get(post.media)
        poster = old.characters.get(post.character)
        if item is None or image is None or image.sha256 != item.content:
            data.posts[key] = post
            continue
        post.media, post.media_id = item.media_key, image.media_id
        post.character_id = poster.platform_id if poster is not None else ""
        data.posts[item.record_key] = post


def import_v1_ledger(ledger: PublishLedger, plan: PublishPlan) -> str:
    """Take over the version-1 ledger of ``plan``'s run folder into the empty ``ledger``.

    Returns:
        The file taken over, or ``""`` when there was none (or ``ledger`` is not empty).
    """
    data = ledger.data
    if data.characters or data.media or data.posts:
        return ""
    read = _read_v1(plan, data.world_id)
    if read is None:
        return ""
    old, path = read
    data.characters.update(old.characters)
    _take_media(data, old, plan)
    _take_posts(data, old, plan)
    data.captions.update(old.captions)
    data.addresses = [old.target] if old.target else []
    ledger.save()
    log.info("took over %s (ledger version 1)", path)
    return path
