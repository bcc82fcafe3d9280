"""Finding an API key an endpoint echoed back: any case, with or without its prefix, cut short."""

from __future__ import annotations

import pytest

from generators.redact import Secret

KEY = "sk-proj-Q3vX9kLm2PzR7tYw"


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        (f"Incorrect API key provided: {KEY}.", "Incorrect API key provided: ***."),
        (f"Authorization: Bearer {KEY}", "Authorization: Bearer ***"),
        (f"AUTH BEARER {KEY.upper()}", "AUTH BEARER ***"),
        (f"key={KEY.lower()}&x=1", "key=***&x=1"),
        (f"provided: {KEY[:16]}...", "provided: ***..."),  # truncated, prefix and 8 characters
        (f"ends with {KEY[-8:]}", "ends with ***"),  # the last 8 characters alone
        (f"{KEY[8:15]} is only 7", f"{KEY[8:15]} is only 7"),  # under 8 characters: left alone
        ("keys start with sk-proj- as everyone knows", "keys start with sk-proj- as everyone knows"),
        (f"two: {KEY} and {KEY.swapcase()}", "two: *** and ***"),
    ],
)
def test_scrub(text, scrubbed):
    secret = Secret(KEY)
    assert secret.scrub(text) == scrubbed
    assert secret.leaks(text) == (text != scrubbed)


def test_short_keys_are_matched_whole_in_any_case():
    secret = Secret("abc123")
    assert secret.scrub("x ABC123 y abc12") == "x *** y abc12"
    assert secret.holdback == 5


def test_text_with_unusual_case_mappings_keeps_positions():
    secret = Secret(KEY)
    text = f"İİ {KEY.upper()} İ"
    assert secret.scrub(text) == "İİ *** İ"


def test_binary_outputs():
    secret = Secret(KEY)
    assert secret.leaks_bytes(b"\x89PNG...tEXtComment\x00" + KEY[8:20].upper().encode())
    assert not secret.leaks_bytes(b"\x89PNG...sk-proj-" + bytes(range(256)))
