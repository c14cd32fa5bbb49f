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


def _fold_once(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).casefold().translate(_SPECIAL)
    t = unicodedata.normalize("NFKD", t)
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse white space. Stable: fold(fold(x)) == fold(x).

    Compatibility decomposition and case folding can each expose work for the other (a mathematical
    capital alpha decomposes to a capital alpha), so repeat until nothing changes.
    """
    t = text
    for _ in range(4):
        nxt = _fold_once(t)
        if nxt == t:
            break
        t = nxt
    return " ".join(t.split())


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
