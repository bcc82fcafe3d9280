"""Demographics in vote dumps under k-anonymity: a value, or a combination of values, with
fewer than k distinct voters in the dump is null on every row; with k voters it is shown.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import combinations

import pandas as pd

from arena.services.exports import COLUMNS, export, export_options, k_anonymise
from arena.vocabulary import Modality
from tests.arena.simulated import write_votes

FIELDS = ("age_band", "gender", "country", "first_language", "expertise")


def profile(age=None, gender=None, country=None, language=None, expertise=None):
    return (age, gender, country, language, expertise)


def voters_with(values, n):
    return [(values, f"{values}-{i}") for i in range(n)]


def test_a_value_with_k_minus_one_voters_is_suppressed_and_one_with_k_is_kept():
    fr, de = profile(country="FR"), profile(country="DE")
    published = k_anonymise(voters_with(fr, 9) + voters_with(de, 10), k=10)
    assert published[fr] == profile() and published[de] == de


def test_a_combination_under_k_is_suppressed_even_when_each_value_has_k():
    pairs = []
    for age in ("18-24", "25-34"):
        for country in ("FR", "DE"):
            pairs += voters_with(profile(age=age, country=country), 5)  # each pair 5 voters, each value 10
    published = k_anonymise(pairs, k=10)
    assert {shown for shown in published.values()} == {profile(age="18-24"), profile(age="25-34")}
    # whatever is shown, every combination of shown fields has at least k voters behind it
    behind: dict = {}
    for values, voter in pairs:
        shown = published[values]
        kept = [i for i, v in enumerate(shown) if v is not None]
        for size in range(1, len(kept) + 1):
            for subset in combinations(kept, size):
                behind.setdefault((subset, tuple(shown[i] for i in subset)), set()).add(voter)
    assert behind and all(len(who) >= 10 for who in behind.values())


def test_one_voter_is_counted_once_however_many_votes():
    many_votes = [(profile(country="FR"), "same-voter")] * 50
    assert k_anonymise(many_votes, k=2)[profile(country="FR")] == profile()


def seed(arena, country: str, voters: int, age: str = "25-34") -> None:
    models = sorted(entry.name for entry in arena.entries if entry.modality == Modality.TEXT)[:2]
    ids = [f"voter-{country.lower()}-{uuid.uuid4().hex[:12]}" for _ in range(voters)]
    now = datetime.now(UTC)
    arena.voters.create_many(
        [{"id": v, "created_at": now, "ip_hash": f"ip-{v}", "country": country, "age_band": age} for v in ids]
    )
    frame = pd.DataFrame(
        {
            "model_a": models[0],
            "model_b": models[1],
            "winner": "model_a",
            "voter": ids + ids,  # two votes each
            "tstamp": now.timestamp(),
            "ip_hash": "x",
        }
    )
    write_votes(arena, frame, new_voters=False)


async def test_a_dump_shows_demographics_with_k_voters_and_nulls_them_under_k(arena, tmp_path):
    k = arena.settings.k_anonymity
    seed(arena, "AA", k - 1)
    seed(arena, "BB", k)
    out = tmp_path / "dump.parquet"
    manifest = export(arena.store, arena.settings, export_options(), out)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == list(COLUMNS) and set(FIELDS) <= set(frame.columns)
    assert set(frame["country"].dropna()) == {"BB"}
    shown = frame[frame["country"] == "BB"]
    assert len(shown) == 2 * k and (shown["age_band"] == "25-34").all() and shown["judge"].nunique() == k
    hidden = frame[frame["country"].isna()]
    assert len(hidden) == 2 * (k - 1) and hidden["age_band"].isna().all()  # (25-34, null) would single them out
    assert manifest["k_anonymity"] == k
    assert any("k-anonymised" in note for note in manifest["notes"])
    assert not any("not published yet" in note for note in manifest["notes"])
