"""Find a secret (an endpoint's API key) in text an endpoint sent back, in any spelling.

An endpoint may echo the key it was sent: whole, upper- or lower-cased, after "Bearer "
or "sk-", or cut short. `Secret` finds every run of text that contains a piece of the
key at least `MIN_FRAGMENT` characters long, ignoring case: `scrub` replaces those runs
with "***" (for operators' logs), `leaks` says whether there is one (an answer that
carries the key is refused, never shown to a voter).

A well-known prefix ("sk-", "sk-proj-", "hf_", ...) is not part of what is looked for,
so an answer that merely mentions "sk-proj-" is not taken for the key; the characters
after it are. A key shorter than `MIN_FRAGMENT` after its prefix is looked for whole.
"""

from __future__ import annotations

MIN_FRAGMENT = 8

#: prefixes that say what kind of key follows, not which key (longest first)
KEY_PREFIXES = ("bearer ", "sk-proj-", "sk-ant-", "sk-or-v1-", "sk-", "hf_", "gsk_", "pk-", "key-")


def _lower(text: str) -> str:
    """Lower case, one character for one (so positions in the result are positions in `text`)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else "".join(c.lower()[0] for c in text)


class Secret:
    """A key, and every piece of it of MIN_FRAGMENT or more characters, in any case."""

    def __init__(self, value: str) -> None:
        core = _lower(value.strip())
        self._prefix = ""  # the key's own prefix, masked with the key when it stands right before it
        for prefix in KEY_PREFIXES:
            if core.startswith(prefix) and len(core) - len(prefix) >= MIN_FRAGMENT:
                core, self._prefix = core[len(prefix) :], prefix
                break
        self.width = min(MIN_FRAGMENT, len(core))
        self._pieces = {core[i : i + self.width] for i in range(len(core) - self.width + 1)} if core else set()
        self._byte_pieces = [piece.encode("utf-8") for piece in self._pieces]

    @property
    def holdback(self) -> int:
        """How many trailing characters of a stream to hold back: a piece may straddle the next chunk."""
        return max(0, self.width - 1)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The runs of `text` made of pieces of the key, merged, as (start, end)."""
        if not self._pieces:
            return []
        lowered = _lower(text)
        spans: list[tuple[int, int]] = []
        for start in range(len(lowered) - self.width + 1):
            if lowered[start : start + self.width] in self._pieces:
                end = start + self.width
                if spans and start <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], end)
                else:
                    before = start - len(self._prefix)
                    if self._prefix and before >= 0 and lowered[before:start] == self._prefix:
                        start = before
                    spans.append((start, end))
        return spans

    def leaks(self, text: str) -> bool:
        """True if `text` holds a piece of the key."""
        return bool(self.spans(text))

    def leaks_bytes(self, data: bytes) -> bool:
        """True if `data` (an image, a mesh) holds a piece of the key, in ASCII of either case."""
        lowered = data.lower()
        return any(piece in lowered for piece in self._byte_pieces)

    def scrub(self, text: str, mask: str = "***") -> str:
        """`text` with every run that holds a piece of the key replaced by `mask`."""
        parts, last = [], 0
        for start, end in self.spans(text):
            parts += [text[last:start], mask]
            last = end
        return "".join(parts) + text[last:]
