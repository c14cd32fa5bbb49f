"""Search folding: case- and accent-insensitive keys so "lucja" finds "Łucja"."""

from __future__ import annotations

import unicodedata

# Letters that NFKD does not decompose into a base letter plus a combining mark.
_SPECIAL = str.maketrans(
    {
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŀ": "l",
        "ĸ": "k",
    }
)


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse white space. Stable: fold(fold(x)) == fold(x)."""
    lowered = text.casefold().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", lowered)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # casefold may produce letters the table maps (e.g. "ẞ" -> "ss" already); run the table again.
    return " ".join(stripped.translate(_SPECIAL).split())


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``.

    Lets a prefix search be a range (``col >= p AND col < bound``) that any B-tree index serves,
    on SQLite and on PostgreSQL (with a "C"-collated column) alike.
    """
    if not prefix:
        raise ValueError("empty prefix")
    last = prefix[-1]
    if ord(last) >= 0x10FFFF:
        return prefix + "\U0010ffff"
    return prefix[:-1] + chr(ord(last) + 1)
