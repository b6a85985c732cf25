"""PNG text chunks and CharX zips: where character cards live inside files.

A card PNG carries the card JSON base64-encoded in a ``tEXt`` chunk: keyword
``chara`` for V2 (and V1), ``ccv3`` for V3 (SillyTavern writes both; the V3 one
wins when present). Chunks are read and written directly (PNG spec, section 5:
length, type, data, CRC-32), so the image data is copied byte for byte.
A CharX file is a zip whose ``card.json`` is the V3 card; its other members
(``assets/…``) are copied unchanged on export.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from storybench.world.errors import WorldFormatError, WorldTooLargeError

__all__ = ["PNG_SIGNATURE", "read_charx_card", "read_text_chunks", "write_charx_card", "write_text_chunks"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CARD_JSON_BYTES = 5 * 1024 * 1024


def _chunks(data: bytes, where: str) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise WorldFormatError(where, "not a PNG file (no PNG signature)")
    out: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise WorldFormatError(where, f"PNG chunk {kind!r} at byte {pos} runs past the end of the file")
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos = end
        if kind == b"IEND":
            break
    return out


def read_text_chunks(data: bytes, where: str) -> dict[str, str]:
    """The ``tEXt`` chunks of a PNG as ``{keyword: text}`` (Latin-1, as the PNG spec says).

    Raises:
        WorldFormatError: not a PNG, or a truncated chunk.
    """
    found: dict[str, str] = {}
    for kind, body in _chunks(data, where):
        if kind == b"tEXt" and b"\0" in body:
            keyword, _, text = body.partition(b"\0")
            found[keyword.decode("latin-1")] = text.decode("latin-1")
    return found


def write_text_chunks(data: bytes, texts: dict[str, str], where: str = "") -> bytes:
    """``data`` (a PNG) with its ``tEXt`` chunks named in ``texts`` replaced by ``texts``'
    values (placed before ``IEND``); every other chunk is copied unchanged.

    Raises:
        WorldFormatError: not a PNG.
    """
    out = io.BytesIO()
    out.write(PNG_SIGNATURE)
    names = {k.encode("latin-1") for k in texts}
    for kind, body in _chunks(data, where):
        if kind == b"tEXt" and body.partition(b"\0")[0] in names:
            continue
        if kind == b"IEND":
            for keyword, text in texts.items():
                _write_chunk(out, b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
        _write_chunk(out, kind, body)
    return out.getvalue()


def _write_chunk(out: io.BytesIO, kind: bytes, body: bytes) -> None:
    out.write(struct.pack(">I", len(body)))
    out.write(kind)
    out.write(body)
    out.write(struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def read_charx_card(data: bytes, where: str) -> bytes:
    """The ``card.json`` bytes of a CharX zip.

    Raises:
        WorldFormatError: not a zip, or no ``card.json``.
        WorldTooLargeError: ``card.json`` is over 5 MB.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            try:
                info = archive.getinfo("card.json")
            except KeyError:
                raise WorldFormatError(where, "a zip without card.json is not a CharX card") from None
            if info.file_size > MAX_CARD_JSON_BYTES:
                raise WorldTooLargeError(
                    f"{where}[card.json]", f"{info.file_size:,} bytes is over the {MAX_CARD_JSON_BYTES:,} byte limit"
                )
            return archive.read(info)
    except zipfile.BadZipFile as exc:
        raise WorldFormatError(where, f"not a readable zip file ({exc})") from exc


def write_charx_card(data: bytes, card_json: bytes) -> bytes:
    """A copy of the CharX zip ``data`` with ``card.json`` replaced by ``card_json``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "card.json":
                target.writestr(info, source.read(info))
        target.writestr("card.json", card_json)
    return out.getvalue()
