"""Text both databases can store: no NUL (PostgreSQL's text cannot hold it) and no lone
UTF-16 surrogate (a JSON escape such as "\\ud800" decodes to one; neither SQLite nor
PostgreSQL can encode it as UTF-8). Checked before any write, so bad input writes nothing.
"""

from __future__ import annotations


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "must not hold NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds an unpaired UTF-16 surrogate)"
    return None


def storable(text: str) -> str:
    """`text` made storable: NUL and lone surrogates become U+FFFD (for text we did not write,
    such as a model's answer, which is kept rather than refused)."""
    if unstorable(text) is None:
        return text
    return "".join("\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in text)
