"""The voter audit on simulated arenas with known labels: every attacker kind is flagged
for the right reason, honest voters are not, the anytime-valid guarantee holds under
continuous monitoring, and position is read from the display order."""

import math

import numpy as np
import pandas as pd
import pytest

from ranking import RankingError
from ranking.fraud import ATTACK_KINDS, ArenaOptions, Attack, AuditOptions, AuditReport, audit, simulate_arena
from ranking.fraud.evidence import Events, run

ALPHA = 0.01
ATTACKS = (
    Attack("random", voters=5, votes=(90, 120)),  # random votes carry little evidence: see the benchmark
    Attack("always_left", voters=5, votes=(30, 60)),
    Attack("promote", voters=5, votes=(30, 60)),
    Attack("omnipresent", voters=5, votes=(30, 60)),
    Attack("demote", voters=5, votes=(30, 60)),
    Attack("sleeper", voters=5, votes=(40, 60)),
    Attack("sybil", voters=40, votes=(2, 4), ips=2),
)


@pytest.fixture(scope="module")
def arena():
    sim = simulate_arena(ArenaOptions(models=30, honest=500, seed=0, attacks=ATTACKS))
    return sim, audit(sim.frame, AuditOptions(alpha=ALPHA))


def _kind(sim, kind):
    return [v for v, label in sim.labels.items() if label == kind]


def test_every_attacker_kind_is_flagged_and_honest_voters_are_not(arena):
    sim, report = arena
    assert isinstance(report, AuditReport) and report.alpha == ALPHA and report.threshold == pytest.approx(2.0)
    assert {lab for lab in sim.labels.values()} == {"honest", *ATTACK_KINDS}
    for kind in ATTACK_KINDS:
        ids = _kind(sim, kind)
        caught = sum(v in report.flagged for v in ids)
        assert caught >= (len(ids) - 1 if kind == "random" else len(ids)), (kind, caught, len(ids))
    honest = _kind(sim, "honest")
    assert sum(v in report.flagged for v in honest) <= ALPHA * len(honest)
    flagged_votes = sim.frame["voter"].isin(report.flagged).sum()
    assert report.excluded_votes == flagged_votes and report.n_votes == len(sim.frame)
    assert report.n_voters == len(sim.labels) and set(report.scores) == set(sim.labels)
    assert [f.score for f in report.flags] == sorted((f.score for f in report.flags), reverse=True)
    assert all(f.score >= report.threshold and f.reasons for f in report.flags)


def test_each_kind_is_flagged_for_its_own_reason(arena):
    sim, report = arena
    by_voter = {f.voter: f for f in report.flags}
    target = {sim.labels[v]: sim.targets[k] for v, k in sim.attack_of.items()}

    def reasons(kind):
        return [" | ".join(by_voter[v].reasons) for v in _kind(sim, kind) if v in by_voter]

    assert all("position bias: favoured the left side" in r for r in reasons("always_left"))
    assert all("outcome surprise" in r for r in reasons("random"))
    for kind in ("promote", "sleeper"):
        assert all(f"involve {target[kind]}" in r or f"favours {target[kind]}" in r for r in reasons(kind))
    assert all(f"disfavours {target['demote']}" in r or f"involve {target['demote']}" in r for r in reasons("demote"))
    assert all("or the models ranked just above it" in r or "omnipresent: pushes" in r for r in reasons("omnipresent"))
    sybils = reasons("sybil")
    assert sum("coordinated: one of" in r for r in sybils) >= len(sybils) // 2
    groups = [g for g in report.groups if g.kind == "ip" and g.flagged]
    assert groups and all(sim.labels[v] == "sybil" for g in groups for v in g.voters)
    flagged = {f.voter: f for f in report.flags}
    assert all(f"ip:{g.key}" in flagged[v].groups for g in groups for v in g.voters)


def test_a_sleeper_is_flagged_while_still_voting(arena):
    sim, report = arena
    by_voter = {f.voter: f for f in report.flags}
    for v in _kind(sim, "sleeper"):
        f = by_voter[v]
        honest_part = round(f.votes * 0.5)
        assert f.flagged_at is not None and honest_part < f.flagged_at < f.votes, (f.flagged_at, f.votes)
    # ... and the audit of the votes up to that moment flags it already
    v = _kind(sim, "sleeper")[0]
    mine = np.flatnonzero(sim.frame["voter"].to_numpy() == v)
    cut = mine[by_voter[v].flagged_at - 1] + 1
    assert v in audit(sim.frame.iloc[:cut], AuditOptions(alpha=ALPHA)).flagged


def test_honest_groups_behind_one_address_are_listed_not_flagged(arena):
    sim, report = arena
    campus = [g for g in report.groups if not g.flagged]
    assert campus and all(len(g.voters) >= 10 and g.kind == "ip" for g in campus)
    assert all(sim.labels[v] == "honest" for g in campus for v in g.voters)
    assert all("pass every test" in g.reasons[0] for g in campus)


def test_position_comes_from_the_display_order_not_the_alphabet():
    """An always-left voter is flagged for position; oriented alphabetically (as LMArena's
    test does) the same votes show no position bias."""
    sim = simulate_arena(
        ArenaOptions(models=20, honest=300, seed=4, attacks=(Attack("always_left", voters=3, votes=(50, 60)),))
    )
    lefties = _kind(sim, "always_left")
    report = audit(sim.frame)
    by_voter = {f.voter: f for f in report.flags}
    assert all(
        v in by_voter and by_voter[v].reasons[0].startswith("position bias: favoured the left side") for v in lefties
    )
    df = sim.frame.copy()
    swap = df["model_a"] > df["model_b"]
    df.loc[swap, ["model_a", "model_b"]] = df.loc[swap, ["model_b", "model_a"]].to_numpy()
    df.loc[swap, "winner"] = (
        df.loc[swap, "winner"].map({"model_a": "model_b", "model_b": "model_a"}).fillna(df.loc[swap, "winner"])
    )
    alphabetical = audit(df)
    for v in lefties:
        assert not any(r.startswith("position") for f in alphabetical.flags if f.voter == v for r in f.reasons)
        assert alphabetical.scores[v] < report.scores[v] - 5


def test_outcome_tests_catch_an_attacker_that_votes_in_every_battle():
    """Without abandoned battles there is no concentration; the targeted test still flags a
    promoter once it has enough battles with its target."""
    sim = simulate_arena(
        ArenaOptions(
            models=12,
            honest=300,
            seed=5,
            popularity=0.0,
            attacks=(Attack("promote", voters=3, votes=(300, 320), abandon=False),),
        )
    )
    report = audit(sim.frame)
    target = sim.targets[0]
    by_voter = {f.voter: f for f in report.flags}
    for v in _kind(sim, "promote"):
        assert v in by_voter and f"targeted: favours {target} beyond consensus" in by_voter[v].reasons[0]
        assert by_voter[v].tests["concentration"] < report.threshold


def test_coordinated_ids_without_a_shared_address_form_a_co_vote_group():
    """Ids that vote the same way on the same pairs within minutes, each from its own
    address and each with too few votes to be caught alone, are caught together."""
    sim = simulate_arena(
        ArenaOptions(
            models=20, honest=300, seed=6, attacks=(Attack("sybil", voters=60, votes=(3, 3), ips=60, burst=900.0),)
        )
    )
    report = audit(sim.frame, AuditOptions(group=""))
    sybils = _kind(sim, "sybil")
    by_voter = {f.voter: f for f in report.flags}
    via_covote = [v for v in sybils if v in by_voter and any(g.startswith("co-vote:") for g in by_voter[v].groups)]
    assert len(via_covote) >= len(sybils) // 2
    assert sum(v in report.flagged for v in sybils) >= 0.6 * len(sybils)  # ids with no co-vote partner pass
    assert sum(sim.labels[f.voter] == "honest" for f in report.flags) <= 0.01 * 300
    assert any(g.kind == "co-vote" and g.flagged for g in report.groups)
    assert all(sim.labels[v] == "sybil" for g in report.groups if g.kind == "co-vote" for v in g.voters)
    assert "no ip_hash column" not in " ".join(report.notes)


def test_share_of_honest_voters_ever_flagged_under_continuous_monitoring_is_at_most_alpha():
    """Honest voters only (personal tastes, left bias, ties): the audit rerun after every
    tenth of the votes, each time on a refitted board; a voter counts once flagged at any
    of those looks. The share must stay at or below alpha (Ville's inequality)."""
    alpha = 0.05  # a large alpha, so that a miscalibrated test would show
    sim = simulate_arena(ArenaOptions(models=30, honest=800, seed=7, taste=0.4))
    frame = sim.frame
    ever: set[str] = set()
    for k in range(1, 11):
        ever |= audit(frame.iloc[: len(frame) * k // 10], AuditOptions(alpha=alpha)).flagged
    assert len(ever) / len(sim.labels) <= alpha, len(ever)


def test_the_e_process_is_a_supermartingale_under_the_null():
    """The betting machinery alone, on outcomes drawn from the null means (ties included):
    the share of sequences whose wealth ever reaches 1/a is at most a; a shifted mean is
    caught almost always."""
    rng = np.random.default_rng(0)
    units, n = 3000, 120
    unit = np.repeat(np.arange(units), n)
    step = np.tile(np.arange(1, n + 1), units)
    mu = rng.uniform(0.05, 0.95, units * n)
    tie = 0.3 * 4 * mu * (1 - mu)
    u = rng.random(units * n)
    s = np.where(u < mu - tie / 2, 1.0, np.where(u < mu + tie / 2, 0.5, 0.0))
    edges = np.stack([(s - mu) / mu, (mu - s) / (1 - mu)], axis=1)
    for a in (0.1, 0.02):
        seg = run(Events(unit, np.zeros_like(unit), step, edges, s, mu), math.log(1 / a))
        assert (seg.log_e >= math.log(1 / a)).mean() <= a
    biased = np.where(rng.random(units * n) < 0.4, 1.0, s)
    edges = np.stack([(biased - mu) / mu, (mu - biased) / (1 - mu)], axis=1)
    seg = run(Events(unit, np.zeros_like(unit), step, edges, biased, mu), math.log(100))
    caught = seg.log_e >= math.log(100)
    assert caught.mean() > 0.9 and seg.up[caught].all()  # ... and in the right direction
    hits = rng.random(units * n) < 0.1
    seg = run(
        Events(
            unit[hits],
            np.zeros(int(hits.sum()), dtype=np.int64),
            step[hits],
            np.full((int(hits.sum()), 1), 9.0),
            np.ones(int(hits.sum())),
            np.full(int(hits.sum()), 0.1),
            decay=True,
        ),
        math.log(10),
    )
    assert (seg.log_e >= math.log(10)).mean() <= 0.1


def test_every_input_format_gives_the_same_audit(tmp_path):
    sim = simulate_arena(
        ArenaOptions(models=15, honest=150, seed=8, attacks=(Attack("always_left", voters=2, votes=(40, 40)),))
    )
    df = sim.frame
    base = audit(df)
    fastchat = df.rename(columns={"voter": "judge"}).assign(
        winner=df["winner"].replace({"both_bad": "tie (bothbad)"}), tstamp=pd.to_datetime(df["tstamp"], unit="s")
    )
    fastchat.to_json(tmp_path / "v.json", orient="records", date_format="iso")
    fastchat.to_json(tmp_path / "v.jsonl", orient="records", lines=True, date_format="iso")
    df.to_parquet(tmp_path / "v.parquet")
    df.to_csv(tmp_path / "v.csv", index=False)
    for name in ("v.json", "v.jsonl", "v.parquet", "v.csv"):
        other = audit(tmp_path / name)
        assert other.flagged == base.flagged, name
        assert [f.reasons for f in other.flags] == [f.reasons for f in base.flags], name


def test_file_order_is_the_time_order_without_a_time_column():
    sim = simulate_arena(
        ArenaOptions(models=15, honest=150, seed=8, attacks=(Attack("always_left", voters=2, votes=(40, 40)),))
    )
    report = audit(sim.frame.drop(columns=["tstamp", "ip_hash"]))
    assert set(_kind(sim, "always_left")) <= report.flagged
    assert any("no time column" in n for n in report.notes) and any("no ip_hash" in n for n in report.notes)


BAD = [
    (lambda df: df.drop(columns=["voter"]), "an audit needs a voter column"),
    (lambda df: df.drop(columns=["winner"]), "missing column winner"),
    (lambda df: df.assign(winner="left"), "unknown winner label 'left'"),
    (lambda df: df.assign(count=1), "one row per vote, not counted rows"),
    (lambda df: df.assign(model_b=df["model_a"]), "compare a model with itself"),
    (lambda df: df.iloc[:0], "no votes"),
]


@pytest.mark.parametrize("change,text", BAD, ids=[t for _, t in BAD])
def test_bad_input_is_one_readable_ranking_error(change, text):
    df = simulate_arena(ArenaOptions(models=6, honest=20, seed=1)).frame
    with pytest.raises(RankingError) as err:
        audit(change(df), AuditOptions(strict=True))
    assert text in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "bad,text",
    [
        ({"alpha": 0.0}, "alpha must be between 0 and 1"),
        ({"alpha": "0.01"}, "alpha must be a number"),
        ({"tolerance": -1}, "tolerance must be a finite number >= 0"),
        ({"neighbours": 1.5}, "neighbours must be an integer >= 0"),
        ({"window": 0}, "window must be a positive number of seconds"),
        ({"min_covotes": 0}, "min_covotes must be an integer >= 1"),
        ({"voter": ""}, "voter must be a column name or None"),
    ],
)
def test_bad_options_fail_on_construction(bad, text):
    with pytest.raises(RankingError, match=text):
        AuditOptions(**bad)


def test_options_must_be_an_audit_options_and_a_group_column_must_exist():
    df = simulate_arena(ArenaOptions(models=6, honest=20, seed=1)).frame
    with pytest.raises(RankingError, match="options must be an AuditOptions, not dict"):
        audit(df, {"alpha": 0.1})
    with pytest.raises(RankingError, match="no column 'subnet' for the group tests"):
        audit(df, AuditOptions(group="subnet"))
    assert audit(df, AuditOptions(group="")).n_votes == len(df)
