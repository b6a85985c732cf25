"""Text rules of plan fields: control characters, file-name-safe ids, bounded quoting.

Plan text reaches fonts (lettering), XML (ComicInfo), PDF metadata and file names,
so each kind of field admits only what those can carry:

* **single-line text** (titles, names, mood, camera, SFX, style): no C0 controls
  (U+0000-U+001F), no DEL or C1 controls (U+007F-U+009F), no line or paragraph
  separators (U+2028, U+2029), no lone surrogates. A tab is *normalised* to a space.
* **multi-line text** (dialogue, narrative, action, location, appearance, clothing,
  role): the same, except that line breaks are kept — and *normalised* to ``\\n``:
  ``\\r\\n``, a lone ``\\r``, NEL (U+0085), U+2028 and U+2029 each become ``\\n``;
  a tab becomes a space.
* **ids** (plan, chapter, page, panel and character ids) become parts of file names
  on every system: besides their pattern they may not be a Windows reserved device
  name (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9``, ``LPT1``-``LPT9``,
  any case, with or without an extension) nor end with ``.`` or a space.

Refused characters are reported by position and code point, never echoed raw.
:func:`show_value` quotes a bad value in error messages: at most
:data:`QUOTE_CHARS` characters and its length, integers by their digit count, so
a 50 MB string or a 5,000-digit integer never lands whole in a message.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "QUOTE_CHARS",
    "WINDOWS_RESERVED",
    "check_file_name_id",
    "multi_line",
    "show_value",
    "single_line",
]

#: Characters of a bad value quoted in an error message.
QUOTE_CHARS = 80

#: Device names Windows reserves in every folder (compared case-insensitively, extension ignored).
WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)

_NEWLINES = re.compile("\r\n|[\r\x85\u2028\u2029]")
_BAD_MULTI = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_SINGLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _digits(value: int) -> int:
    """Decimal digits of ``value`` without converting it (exact below 4,300 digits, else ±1)."""
    bits = abs(value).bit_length()
    if bits < 14000:
        return len(str(abs(value)))
    return int(bits * 0.30103) + 1


def show_value(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A short, safe rendering of a bad value for an error message.

    Strings longer than ``limit`` characters are cut and followed by their length;
    integers of more than 40 digits are described by their digit count (Python
    refuses to format integers over 4,300 digits); containers by their size.

    Args:
        value: any value.
        limit: characters of a string to quote.

    Returns:
        Text such as ``'abc'``, ``'aaaa…' (1,048,576 characters)`` or
        ``an integer of 5,000 digits``.
    """
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        digits = _digits(value)
        return repr(value) if digits <= 40 else f"an integer of {digits:,} digits"
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    if isinstance(value, dict):
        return f"an object of {len(value):,} key(s)"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value):,} item(s)"
    return f"a {type(value).__name__}"


def _refuse(value: str, match: re.Match[str]) -> None:
    ch = match.group()
    where = match.start()
    raise ValueError(
        f"contains the control character U+{ord(ch):04X} at index {where} (text {show_value(value, 40)}); remove it"
    )


def single_line(value: str) -> str:
    """Validate a one-line text field: tabs become spaces, control characters are refused.

    Raises:
        ValueError: a control character, line or paragraph separator, or lone surrogate
            (message gives its code point and index).
    """
    if "\t" in value:
        value = value.replace("\t", " ")
    bad = _BAD_SINGLE.search(value)
    if bad:
        _refuse(value, bad)
    return value


def multi_line(value: str) -> str:
    """Validate a multi-line text field: line breaks normalised to ``\\n``, tabs to spaces,
    other control characters refused.

    Raises:
        ValueError: a control character or lone surrogate (message gives its code point and index).
    """
    value = _NEWLINES.sub("\n", value)
    if "\t" in value:
        value = value.replace("\t", " ")
    bad = _BAD_MULTI.search(value)
    if bad:
        _refuse(value, bad)
    return value


def check_file_name_id(value: str) -> str:
    """Refuse ids Windows cannot use as file names: reserved device names and trailing dots or spaces.

    Raises:
        ValueError: the id is ``CON``, ``nul.txt``, ``COM1``... or ends with ``.`` or a space.
    """
    if value.endswith((".", " ")):
        raise ValueError(f"id {show_value(value)} ends with a dot or a space, which Windows drops from file names")
    stem = value.split(".", 1)[0].lower()
    if stem in WINDOWS_RESERVED:
        raise ValueError(f"id {show_value(value)} is a name Windows reserves for a device ({stem.upper()}); rename it")
    return value
