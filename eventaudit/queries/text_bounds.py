"""Ranges of strings as Table Storage compares them: by UTF-16 code units, not by code points.

In UTF-16 an astral character (U+10000 and up: two surrogate units, 0xD800-0xDBFF first) sorts below
U+E000..U+FFFF, while Python's str order puts it above them. "Starts with p" becomes the range
p <= text < prefix_upper_bound(p), computed in the service's order, so no key falls between pages or
outside a prefix. (Azurite compares JavaScript strings, which are UTF-16 too.)
"""

from __future__ import annotations

from eventaudit.queries.errors import InvalidQuery

_LAST_BMP_BELOW_SURROGATES = 0xD7FF
_FIRST_ASTRAL = 0x10000
_LAST_ASTRAL = 0x10FFFF
_FIRST_BMP_ABOVE_SURROGATES = 0xE000
_LAST_BMP = 0xFFFF


def check_unicode(name: str, text: str) -> str:
    """Refuse a lone surrogate: it is not Unicode text, and it cannot travel in a request."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise InvalidQuery(f"{name} is not valid Unicode text (it holds a lone surrogate)")
    return text


def utf16_successor(char: str) -> str | None:
    """The character right after `char` in UTF-16 order (None after U+FFFF, the last one)."""
    point = ord(char)
    if point == _LAST_BMP_BELOW_SURROGATES:
        return chr(_FIRST_ASTRAL)  # D7FF < D800 DC00 (U+10000)
    if point == _LAST_ASTRAL:
        return chr(_FIRST_BMP_ABOVE_SURROGATES)  # DBFF DFFF < E000
    if point == _LAST_BMP:
        return None
    return chr(point + 1)


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (None: no such bound)."""
    check_unicode("prefix", prefix)
    chars = list(prefix)
    while chars:
        following = utf16_successor(chars[-1])
        if following is not None:
            return "".join(chars[:-1]) + following
        chars.pop()  # "…\uffff" has no successor at that place: carry to the character before
    return None
