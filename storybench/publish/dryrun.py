"""The dry run: what a publish would create and upload, with sizes, touching nothing.

Nothing is rendered, uploaded or sent: a portrait that does not exist yet is listed
as "rendered when publishing" (its size is not known), a sheet's first cell is cut
in memory to give its size. Objects the ledger already has are listed as kept.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from storybench.publish.avatars import first_cell
from storybench.publish.ledger import LedgerData
from storybench.publish.planning import AvatarSource, CharacterItem, PublishPlan

__all__ = ["DryRun", "dry_run"]


@dataclass
class DryRun:
    """A dry run's answer.

    Attributes:
        lines: one line per character, upload and post, in publishing order.
        characters, uploads, posts: how many would be created.
        upload_bytes: bytes of the uploads whose size is known.
    """

    plan: PublishPlan
    lines: list[str] = field(default_factory=list)
    characters: int = 0
    uploads: int = 0
    posts: int = 0
    upload_bytes: int = 0

    def __str__(self) -> str:
        head = (
            f"dry run: {self.plan.kind} {self.plan.source_id} would create {self.characters} character(s), "
            f"upload {self.uploads} image(s) ({self.upload_bytes:,} bytes known) and create {self.posts} post(s)"
        )
        return "\n".join([head, *self.lines])


def _avatar_size(source: AvatarSource) -> int | None:
    if source.out_path.is_file():
        return source.out_path.stat().st_size
    if source.sheet is not None:
        with Image.open(source.sheet) as sheet:
            buf = io.BytesIO()
            first_cell(sheet).save(buf, "PNG")
        return len(buf.getvalue())
    return None


def _states(records: Mapping[str, Any], state: str) -> set[str]:
    return {key for key, record in records.items() if record.state == state}


def _avatar_line(out: DryRun, c: CharacterItem) -> None:
    size = _avatar_size(c.avatar)
    how = "sheet's first cell" if c.avatar.sheet else f"portrait by {c.avatar.backend}"
    out.uploads += 1
    if size is None:
        out.lines.append(f"  upload avatar-{c.source_id}.png image/png ({how}, rendered when publishing)")
    else:
        out.upload_bytes += size
        out.lines.append(f"  upload avatar-{c.source_id}.png image/png {size:,} bytes ({how})")


def dry_run(plan: PublishPlan, ledger: LedgerData | None = None) -> DryRun:
    """List what publishing ``plan`` would do, given what ``ledger`` already holds."""
    out = DryRun(plan)
    data = ledger or LedgerData(target="", world_id="")
    done_media = _states(data.media, "confirmed")
    done_chars, unsure = _states(data.characters, "created"), _states(data.characters, "creating")
    done_posts = _states(data.posts, "posted")
    for c in plan.characters:
        if c.key in done_chars:
            out.lines.append(f"  keep   character {c.display_name!r} ({c.source_id}): already on the platform")
        elif c.key in unsure:
            out.lines.append(
                f"  ?      character {c.display_name!r} ({c.source_id}): uncertain (an earlier CreateCharacter "
                f"lost its answer); say which with --resolve {c.source_id}=ID or {c.source_id}=new"
            )
        else:
            out.characters += 1
            out.lines.append(f"  create character {c.display_name!r} ({c.source_id})")
            if c.media_key not in done_media:
                _avatar_line(out, c)
    for p in plan.posts:
        if p.record_key in done_posts:
            out.lines.append(f"  keep   post of {p.label}: already on the platform")
            continue
        if p.media_key not in done_media:
            size = p.image.stat().st_size
            out.uploads += 1
            out.upload_bytes += size
            out.lines.append(f"  upload {p.image.name} {p.content_type} {size:,} bytes")
        out.posts += 1
        poster = plan.character(p.character).display_name
        out.lines.append(f"  create post of {p.label} by {poster!r}, tags {list(p.tags)}")
    return out
