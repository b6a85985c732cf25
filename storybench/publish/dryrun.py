"""The dry run: what a publish would create and upload, with sizes, touching nothing.

Nothing is rendered, uploaded or sent: a portrait that does not exist yet is listed
as "rendered when publishing" (its size is not known), a sheet's first cell is cut
in memory to give its size. Objects the ledger already has are listed as kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image

from storybench.publish.avatars import first_cell
from storybench.publish.ledger import LedgerData
from storybench.publish.planning import AvatarSource, PublishPlan

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


def dry_run(plan: PublishPlan, ledger: LedgerData | None = None) -> DryRun:
    """List what publishing ``plan`` would do, given what ``ledger`` already holds."""
    out = DryRun(plan)
    done_media = {k for k, m in (ledger.media if ledger else {}).items() if m.state == "confirmed"}
    done_chars = {k for k, c in (ledger.characters if ledger else {}).items() if c.state == "created"}
    done_posts = {k for k, p in (ledger.posts if ledger else {}).items() if p.state == "posted"}
    for c in plan.characters:
        if c.key in done_chars:
            out.lines.append(f"  keep   character {c.display_name!r} ({c.source_id}): already on the platform")
            continue
        out.characters += 1
        out.lines.append(f"  create character {c.display_name!r} ({c.source_id})")
        if c.media_key not in done_media:
            size = _avatar_size(c.avatar)
            how = "sheet's first cell" if c.avatar.sheet else f"portrait by {c.avatar.backend}"
            out.uploads += 1
            if size is None:
                out.lines.append(f"  upload avatar-{c.source_id}.png image/png ({how}, rendered when publishing)")
            else:
                out.upload_bytes += size
                out.lines.append(f"  upload avatar-{c.source_id}.png image/png {size:,} bytes ({how})")
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
