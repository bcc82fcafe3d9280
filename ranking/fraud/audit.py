"""``audit``: per-voter and per-group anytime-valid tests against the consensus board.

The consensus is a Bradley-Terry fit with a first-position (left) term on the votes
(ties are half a win; ``both_bad`` is a tie), refitted without the flagged voters up to
``passes`` times. For a vote with left model a and right model b it predicts the left
side's expected score μ = σ(θ_a − θ_b + h); the tests bet against that prediction:

- ``surprise``: the voter's side agrees with the board's favourite less than predicted
  (random or contrarian voting).
- ``position``: the voter picks the left (or right) side more than predicted, beyond a
  personal preference of ``position_tolerance`` (left and right are the stored display
  order, ``model_a`` / ``model_b``, never alphabetical order).
- ``targeted``: per model, the voter scores it higher (or lower) than the board
  predicts beyond a personal taste of ``tolerance``; one test per model and direction.
- ``omnipresent``: per model m, the voter's votes push m up and the ``neighbours``
  models ranked just above m down.
- ``concentration``: per model (and per model with its neighbours above), the share of
  the voter's votes that involve it against the population's share at that time:
  attackers abandon the battles without their target, and a dump holds only votes.

No single vote can be infinitely surprising (the role of the paper's +1 correction):
the board's predicted means are kept within [0.1, 0.9] (``TAIL``) and the population's
shares are (hits + 1) / (votes + 2). Ties and ``both_bad`` are half a win, so a voter's
tie rate is no evidence either way.

Each test is a mixture betting e-process (:mod:`.evidence`); a unit's evidence is the
Bonferroni combination over its tests (weights below) and over the unit kinds (its
group behind one ``ip_hash`` and its co-vote group: a quarter of alpha each when there
is a group column and a time column; the voter's own tests: the rest), so a voter who
follows the consensus is ever flagged with probability at most ``alpha`` however often
the audit is rerun on the same board.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import bt
from ..counts import Counts
from ..design import build_pairs
from ..errors import RankingError
from ..io import A_WINS, B_WINS, VOTER_COLUMNS, VoteSource, open_votes
from ..options import PRIOR
from .evidence import Events, Floats, Ints, Segments, local_steps, run
from .groups import components, covote_links, primary_groups
from .options import AuditOptions
from .report import AuditReport, GroupFlag, GroupKind, VoterFlag

Family = Literal["surprise", "position", "targeted", "omnipresent", "concentration", "cluster"]
FAMILIES: tuple[Family, ...] = ("surprise", "position", "targeted", "omnipresent", "concentration", "cluster")
# Share of a unit's alpha per family; per-model families split theirs over the models.
WEIGHTS: dict[Family, float] = {
    "surprise": 0.25,
    "position": 0.15,
    "targeted": 0.2,
    "omnipresent": 0.1,
    "concentration": 0.15,
    "cluster": 0.15,
}
PER_MODEL: frozenset[Family] = frozenset({"targeted", "omnipresent", "concentration", "cluster"})
GROUP_SHARE = 0.25  # of alpha, per kind of group tested (ip, co-vote); the voter's own tests get the rest
CHUNK_VOTES = 150_000  # votes per chunk of units in evaluate()
BIN_VOTES = 20_000  # votes per time bin for the population's pair shares
MAX_BINS = 100
MISSING_GROUP = "(missing)"
GROUP_DEFAULT = "ip_hash"
REASONS_PER_FAMILY = 2
TAIL = 0.1  # null means are kept within [TAIL, 1 - TAIL] (see _upper)


def _sigmoid(x: Floats) -> Floats:
    out: Floats = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def _upper(x: Floats) -> Floats:
    """σ(x) as an upper bound on a score's null mean, never below TAIL: a board that calls
    an upset nearly impossible is not trusted that far (BT's tails are too thin for real
    voters), so one upset is worth at most a factor 1/TAIL."""
    out: Floats = np.maximum(_sigmoid(x), TAIL)
    return out


def _lower(x: Floats) -> Floats:
    """σ(x) as a lower bound on a score's null mean, never above 1 − TAIL."""
    out: Floats = np.minimum(_sigmoid(x), 1 - TAIL)
    return out


# --------------------------------------------------------------------------- input


@dataclass
class Votes:
    """The votes in time order, as codes."""

    a: Ints
    b: Ints
    y: npt.NDArray[np.int8]
    voter: Ints
    group: Ints | None
    time: Floats | None  # seconds
    models: list[str]
    voters: list[str]
    groups: list[str]
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.a)

    @property
    def score(self) -> Floats:
        """The left side's score: 1 win, 0 loss, ½ tie or both bad."""
        out: Floats = np.where(self.y == A_WINS, 1.0, np.where(self.y == B_WINS, 0.0, 0.5))
        return out


def _peek_columns(data: VoteSource) -> tuple[list[str] | None, VoteSource]:
    """Column names without reading the votes (None when unknown); a FastChat JSON list
    is parsed here once and handed on as a DataFrame."""
    import pyarrow as pa

    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns], data
    if isinstance(data, pa.Table):
        return list(data.column_names), data
    if not isinstance(data, (str, os.PathLike)):
        return None, data
    path = Path(data)
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return None, data
        from ..io import _sniff

        kind = _sniff(path)
        if kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names), data
        if kind == "csv":
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep).columns], data
        if kind == "jsonl":
            with path.open("rb") as fh:
                first = json.loads(fh.readline() or b"{}")
            return (list(first) if isinstance(first, dict) else None), data
        with path.open("rb") as fh:
            records = json.load(fh)
    except (OSError, ValueError, pa.ArrowException):
        return None, data  # open_votes says what is wrong
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records[:100]):
        raise RankingError(f"{path.name} is not a JSON list of vote objects")
    if not records:
        raise RankingError(f"no votes in {path.name}")
    frame = pd.DataFrame.from_records(records)
    return [str(c) for c in frame.columns], frame


def load(data: VoteSource, opts: AuditOptions) -> Votes:
    """Read the votes (any format :func:`ranking.io.open_votes` reads) in time order."""
    columns, data = _peek_columns(data)
    notes: list[str] = []
    if columns is not None and "count" in columns:
        raise RankingError("an audit needs one row per vote, not counted rows (a 'count' column)")
    group_col: str | None = opts.group
    if group_col is None:
        group_col = GROUP_DEFAULT if columns is not None and GROUP_DEFAULT in columns else None
    elif group_col == "":
        group_col = None
    if columns is not None and opts.voter is None and not any(c in columns for c in VOTER_COLUMNS):
        raise RankingError(f"an audit needs a voter column ({', '.join(VOTER_COLUMNS)}, or --voter)")
    try:
        src = open_votes(
            data,
            voter=opts.voter,
            need_voter=True,
            by=group_col,
            need_time=True,
            strict=opts.strict,
            all_battles=opts.all_battles,
        )
    except RankingError as exc:
        if "online Elo" in str(exc):
            raise RankingError("an audit needs one row per vote, not counted rows (a 'count' column)") from None
        if "voter-cluster intervals" in str(exc):
            raise RankingError(f"an audit needs a voter column ({', '.join(VOTER_COLUMNS)}, or --voter)") from None
        if "for --by" in str(exc):
            raise RankingError(f"no column {group_col!r} for the group tests") from None
        raise
    parts = list(src.batches)
    if not parts or sum(len(p.a) for p in parts) == 0:
        raise src.no_votes_left()
    a = np.concatenate([p.a for p in parts])
    b = np.concatenate([p.b for p in parts])
    y = np.concatenate([p.winner for p in parts]).astype(np.int8)
    voter = np.concatenate([p.voter for p in parts if p.voter is not None])
    if len(a) == 0:
        raise RankingError("no votes: the data is empty")
    same = a == b
    if same.any():
        name = src.models.values[int(a[np.argmax(same)])]
        raise RankingError(f"{int(same.sum())} votes compare a model with itself ({name})")
    group = None
    groups: list[str] = []
    if src.columns.group is not None:
        group = np.concatenate([p.group for p in parts if p.group is not None])
        groups = [str(g) for g in src.groups.values]
    elif opts.group is None:
        notes.append("no ip_hash column: no tests of voter ids behind one address")
    time = None
    if src.columns.time is not None:
        time = _seconds(np.concatenate([p.time for p in parts if p.time is not None]))
        bad = ~np.isfinite(time)
        if bad.any():
            notes.append(f"{int(bad.sum())} votes without a time: placed after the others in file order")
    else:
        notes.append("no time column: votes taken in file order; no co-vote groups")
    if len(set(map(str, src.models.values))) < len(src.models.values):
        raise RankingError("two model labels differ only in type (e.g. 1 and '1')")
    votes = Votes(
        a=a.astype(np.int64),
        b=b.astype(np.int64),
        y=y,
        voter=voter.astype(np.int64),
        group=None if group is None else group.astype(np.int64),
        time=time,
        models=[str(m) for m in src.models.values],
        voters=[str(v) for v in src.voters.values],
        groups=groups,
        notes=notes,
        skipped={k: n for k, n in src.skipped.items() if n},
    )
    if len(set(votes.voters)) < len(votes.voters):
        raise RankingError("two voter labels differ only in type (e.g. 1 and '1')")
    if time is not None:
        order = np.argsort(np.where(np.isfinite(time), time, np.inf), kind="stable")
        votes = _take(votes, order)
    return votes


def _seconds(t: Floats) -> Floats:
    """Timestamps in seconds: datetimes arrive as nanoseconds, and numbers past the year
    5000 in seconds are read as milliseconds."""
    t = np.where(t < -1e17, np.nan, t)  # NaT
    finite = t[np.isfinite(t)]
    big = float(np.median(np.abs(finite))) if len(finite) else 0.0
    if big > 1e14:
        return t / 1e9
    if big > 1e11:
        return t / 1e3
    return t


def _take(v: Votes, order: Ints) -> Votes:
    return Votes(
        a=v.a[order],
        b=v.b[order],
        y=v.y[order],
        voter=v.voter[order],
        group=None if v.group is None else v.group[order],
        time=None if v.time is None else v.time[order],
        models=v.models,
        voters=v.voters,
        groups=v.groups,
        notes=v.notes,
        skipped=v.skipped,
    )


# --------------------------------------------------------------------------- consensus


@dataclass
class Consensus:
    theta: Floats  # natural-log strengths, one per model code
    h: float  # left-position advantage (log-odds)
    rank: Ints  # 0 = best
    by_rank: Ints  # model code at each rank
    bins: Ints  # time bin of each vote
    share: Floats  # (bins, M): share of trusted votes in the bin that involve the model
    set_share: Floats  # (bins, M): ... that involve the model or its neighbours above


def consensus(
    v: Votes, trusted: npt.NDArray[np.bool_], neighbours: int, previous: Consensus | None = None
) -> Consensus:
    """BT with a position term on the trusted votes, ranks, and binned pair shares."""
    m = len(v.models)
    a, b, y = v.a[trusted], v.b[trusted], v.y[trusted]
    if len(a) == 0 and previous is not None:
        return previous
    cells = (a * m + b) * 4 + y
    n = np.bincount(cells, minlength=m * m * 4).astype(np.float64)
    nz = np.flatnonzero(n)
    counts = Counts(models=tuple(v.models), a=nz // (4 * m), b=(nz // 4) % m, outcome=(nz % 4).astype(np.int8), n=n[nz])
    pairs = build_pairs(counts, ties="half", both_bad="tie", position=True)
    fit = bt.fit(pairs, "bt", prior=PRIOR)
    used = np.unique(np.concatenate([counts.a, counts.b]))
    theta = np.zeros(m)
    theta[used] = fit.theta
    h = float(fit.position) if fit.position is not None else 0.0
    by_rank = np.argsort(-theta, kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[by_rank] = np.arange(m)
    n_bins = int(np.clip(v.n // BIN_VOTES, 1, MAX_BINS))
    bins = np.minimum(np.arange(v.n) * n_bins // max(v.n, 1), n_bins - 1).astype(np.int64)
    tb = bins[trusted]
    per_bin = np.bincount(tb, minlength=n_bins).astype(np.float64)
    hits = np.bincount(tb * m + a, minlength=n_bins * m) + np.bincount(tb * m + b, minlength=n_bins * m)
    share = (hits.reshape(n_bins, m) + 1.0) / (per_bin[:, None] + 2.0)
    vi, cand = _set_candidates(a, b, rank, by_rank, neighbours)
    set_hits = np.bincount(tb[vi] * m + cand, minlength=n_bins * m).reshape(n_bins, m)
    set_share = (set_hits + 1.0) / (per_bin[:, None] + 2.0)
    return Consensus(theta=theta, h=h, rank=rank, by_rank=by_rank, bins=bins, share=share, set_share=set_share)


def _below(models: Ints, rank: Ints, by_rank: Ints, k: int) -> Ints:
    """(n, k): the models ranked 1..k places below each model (-1 past the bottom)."""
    r = rank[models][:, None] + np.arange(1, k + 1)[None, :]
    out: Ints = np.where(r < len(rank), by_rank[np.minimum(r, len(rank) - 1)], -1)
    return out


def _set_candidates(a: Ints, b: Ints, rank: Ints, by_rank: Ints, k: int) -> tuple[Ints, Ints]:
    """(vote index, model m) for every model m whose set {m} ∪ (k models just above m)
    contains a or b; each pair once, in vote order."""
    cols = [a[:, None], b[:, None]]
    if k:
        cols += [_below(a, rank, by_rank, k), _below(b, rank, by_rank, k)]
    cand = np.sort(np.concatenate(cols, axis=1), axis=1)
    ok = cand >= 0
    ok[:, 1:] &= cand[:, 1:] != cand[:, :-1]
    vi = np.repeat(np.arange(len(a)), cand.shape[1]).reshape(cand.shape)
    return vi[ok], cand[ok]


# --------------------------------------------------------------------------- tests


@dataclass
class Unit:
    """Which unit each vote counts for (-1: none) and the vote's step within it."""

    kind: str
    of_vote: Ints
    step: Ints
    n_units: int
    votes: Ints  # votes per unit


def make_unit(kind: str, of_vote: Ints, n_units: int) -> Unit:
    step = np.zeros(len(of_vote), dtype=np.int64)
    inside = of_vote >= 0
    step[inside] = local_steps(of_vote[inside], n_units)
    return Unit(kind, of_vote, step, n_units, np.bincount(of_vote[inside], minlength=n_units))


def families(v: Votes, c: Consensus, u: Unit, inside: Ints, opts: AuditOptions) -> Iterator[tuple[Family, Events]]:
    """Each test family's events for the votes ``inside`` (time order; each unit's votes
    all there or none)."""
    a, b, s = v.a[inside], v.b[inside], v.score[inside]
    unit, step = u.of_vote[inside], u.step[inside]
    d = c.theta[a] - c.theta[b] + c.h
    mu = _sigmoid(d)
    zero = np.zeros(len(inside), dtype=np.int64)
    delta, dpos = opts.tolerance, opts.position_tolerance

    # position: left score against σ(d ± position tolerance), both directions
    hi, lo = _upper(d + dpos), _lower(d - dpos)
    yield "position", Events(unit, zero, step, np.stack([(s - hi) / hi, (lo - s) / (1 - lo)], axis=1), s, mu)

    # surprise: the favourite's score below its prediction
    fav = np.abs(d) > 1e-9
    s_fav = np.where(d > 0, s, 1 - s)[fav]
    mu_fav = _sigmoid(np.abs(d))[fav]
    lo = _lower(np.abs(d))[fav]
    yield "surprise", Events(unit[fav], zero[fav], step[fav], ((lo - s_fav) / (1 - lo))[:, None], s_fav, mu_fav)

    # targeted: each model's score in its battles, beyond ± tolerance, both directions
    tm = np.concatenate([a, b])
    ts = np.concatenate([s, 1 - s])
    td = np.concatenate([d, -d])
    hi, lo = _upper(td + delta), _lower(td - delta)
    yield (
        "targeted",
        Events(
            np.tile(unit, 2),
            tm,
            np.tile(step, 2),
            np.stack([(ts - hi) / hi, (lo - ts) / (1 - lo)], axis=1),
            ts,
            _sigmoid(td),
        ),
    )

    # concentration: votes that involve the model, against the population's share then
    bins = c.bins[inside]
    p = c.share[np.tile(bins, 2), tm]
    yield (
        "concentration",
        Events(np.tile(unit, 2), tm, np.tile(step, 2), ((1 - p) / p)[:, None], np.ones(len(tm)), p, decay=True),
    )

    k = opts.neighbours
    if k == 0:
        return
    vi, m = _set_candidates(a, b, c.rank, c.by_rank, k)
    # cluster: votes that involve the model or one of the k models ranked just above it
    p = c.set_share[bins[vi], m]
    yield "cluster", Events(unit[vi], m, step[vi], ((1 - p) / p)[:, None], np.ones(len(vi)), p, decay=True)

    # omnipresent: +1 for m, -1 for the k models just above it; the side with more wins
    def side(j: Ints) -> Ints:
        gap = c.rank[m] - c.rank[j]
        out: Ints = np.where(j == m, 1, np.where((gap >= 1) & (gap <= k), -1, 0))
        return out

    ca, cb = side(a[vi]), side(b[vi])
    keep = ca != cb
    vi, m, left = vi[keep], m[keep], (ca > cb)[keep]
    s_pro = np.where(left, s[vi], 1 - s[vi])
    d_pro = np.where(left, d[vi], -d[vi])
    hi = _upper(d_pro + delta)
    yield "omnipresent", Events(unit[vi], m, step[vi], ((s_pro - hi) / hi)[:, None], s_pro, _sigmoid(d_pro))


@dataclass
class UnitResult:
    """Per unit: the best adjusted log e-value (nats) per family, the overall one, the
    first step at which any test crossed, and the segments that fired (for reasons)."""

    kind: str
    log_e: dict[Family, Floats]
    total: Floats
    first_step: Ints
    fired: dict[Family, Segments]


def evaluate(v: Votes, c: Consensus, u: Unit, opts: AuditOptions, share: float) -> UnitResult:
    """Every family's e-processes for the units of ``u``; ``share``: the unit kind's
    share of alpha. Units are processed in chunks of about CHUNK_VOTES votes (a unit's
    votes never straddle two chunks), which bounds memory."""
    m = len(v.models)
    goal = math.log(1 / opts.alpha)
    weights = dict(WEIGHTS)
    if opts.neighbours == 0:
        weights["targeted"] += weights.pop("omnipresent")
        weights["concentration"] += weights.pop("cluster")
    best: dict[Family, Floats] = {fam: np.full(u.n_units, -np.inf) for fam in weights}
    fired_parts: dict[Family, list[Segments]] = {fam: [] for fam in weights}
    never = np.iinfo(np.int64).max
    first = np.full(u.n_units, never, dtype=np.int64)
    inside = np.flatnonzero(u.of_vote >= 0)
    inside = inside[np.argsort(u.of_vote[inside], kind="stable")]  # by unit, then time
    starts = np.flatnonzero(np.diff(u.of_vote[inside])) + 1  # where a unit begins
    pos = np.searchsorted(starts, np.arange(CHUNK_VOTES, len(inside), CHUNK_VOTES))
    cuts = np.unique(np.concatenate([[0], starts[pos[pos < len(starts)]], [len(inside)]]))
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        chunk = np.sort(inside[int(lo) : int(hi)])  # time order again
        for fam, ev in families(v, c, u, chunk, opts):
            log_w = math.log(share * weights[fam] / (m if fam in PER_MODEL else 1))
            seg = run(ev, goal - log_w)
            adj = seg.log_e + log_w
            np.maximum.at(best[fam], seg.unit, adj)
            hit = seg.first_step >= 0
            np.minimum.at(first, seg.unit[hit], seg.first_step[hit])
            keep = adj >= goal
            fired_parts[fam].append(
                Segments(
                    seg.unit[keep],
                    seg.comp[keep],
                    adj[keep],
                    seg.first_step[keep],
                    seg.n[keep],
                    seg.stat[keep],
                    seg.mean[keep],
                    seg.up[keep],
                )
            )
    fired = {fam: _concat(parts) for fam, parts in fired_parts.items()}
    total = np.max(np.stack(list(best.values())), axis=0)
    return UnitResult(u.kind, best, total, np.where(first == never, -1, first), fired)


def _concat(parts: list[Segments]) -> Segments:
    if not parts:
        return Segments.empty()
    return Segments(
        *(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("unit", "comp", "log_e", "first_step", "n", "stat", "mean", "up")
        )
    )


# --------------------------------------------------------------------------- reasons


def _e(log_e: float) -> str:
    x = log_e / math.log(10)
    if x > 300:
        return f"e=1e{int(x)}, p<=1e-{int(x)}"
    e = math.exp(log_e)
    return f"e={e:.2g}, p<={min(1.0, 1 / e):.2g}"


def reasons_for(v: Votes, c: Consensus, r: UnitResult, unit: int, n_votes: int, opts: AuditOptions) -> list[str]:
    """Human-readable lines for the tests that fired for one unit, strongest first: the
    best component of each family (two for ``targeted``), one line for both
    concentration tests."""
    found: dict[str, list[tuple[float, str]]] = {}
    names = v.models
    k = opts.neighbours

    def above(model: int) -> str:
        r0 = int(c.rank[model])
        return ", ".join(names[int(j)] for j in c.by_rank[max(0, r0 - k) : r0]) or "none"

    for fam, seg in r.fired.items():
        rows = np.flatnonzero(seg.unit == unit)
        rows = rows[np.argsort(-seg.log_e[rows], kind="stable")][:REASONS_PER_FAMILY]
        for i in rows:
            n, st, mu, le = int(seg.n[i]), float(seg.stat[i]), float(seg.mean[i]), float(seg.log_e[i])
            comp = int(seg.comp[i])
            model = names[comp]
            if fam == "position":
                side = "left" if seg.up[i] else "right"
                got, exp = (st, mu) if seg.up[i] else (n - st, n - mu)
                text = (
                    f"position bias: favoured the {side} side, score {got:g} in {n} votes "
                    f"(the board predicts {exp:.1f})"
                )
            elif fam == "surprise":
                text = (
                    f"outcome surprise: backed the board's favourite with score {st:g} in {n} votes "
                    f"(the board predicts {mu:.1f})"
                )
            elif fam == "targeted":
                verb = "favours" if seg.up[i] else "disfavours"
                text = (
                    f"targeted: {verb} {model} beyond consensus: it scored {st:g} in {n} battles "
                    f"(the board predicts {mu:.1f})"
                )
            elif fam == "omnipresent":
                text = (
                    f"omnipresent: pushes {model} up and the models ranked just above it ({above(comp)}) "
                    f"down: its side scored {st:g} in {n} votes (the board predicts {mu:.1f})"
                )
            elif fam == "concentration":
                text = (
                    f"concentration: {n} of {n_votes} votes involve {model} "
                    f"(population share {float(c.share[:, comp].mean()):.1%})"
                )
            else:
                text = (
                    f"concentration: {n} of {n_votes} votes involve {model} or the models ranked just "
                    f"above it ({above(comp)}; population share {float(c.set_share[:, comp].mean()):.1%})"
                )
            label: str = "concentration" if fam == "cluster" else fam
            found.setdefault(label, []).append((le, f"{text}; {_e(le)}"))
    out: list[tuple[float, str]] = []
    for family, lines in found.items():
        lines.sort(key=lambda t: -t[0])
        out += lines[: 2 if family == "targeted" else 1]
    out.sort(key=lambda t: -t[0])
    return [t for _, t in out]


# --------------------------------------------------------------------------- audit


@dataclass
class _Groups:
    """One kind of coordinated group: which group each voter is in (-1: none), labels."""

    kind: GroupKind
    of_voter: Ints
    labels: list[str]
    unit: Unit
    result: UnitResult


@dataclass
class _Pass:
    cons: Consensus
    own: UnitResult
    groups: list[_Groups]
    flagged: npt.NDArray[np.bool_]
    evidence: Floats


def audit(data: VoteSource, options: AuditOptions | None = None) -> AuditReport:
    """Test every voter (and coordinated group) in ``data`` for anomalous voting.

    ``data``: a DataFrame, an arrow Table or a file (Parquet, CSV, JSONL, FastChat JSON)
    with ``model_a`` (shown left), ``model_b`` (shown right), ``winner`` (model_a,
    model_b, tie, both_bad or tie (bothbad)), a voter column (judge, judge_hash, voter,
    or ``options.voter``); optional ``tstamp`` (seconds or datetimes; else file order)
    and ``ip_hash`` (or ``options.group``). Returns an :class:`AuditReport`; raises
    :class:`RankingError` for bad input.

    Each pass fits the consensus on the votes of the voters not flagged so far, tests
    every voter, then tests the groups formed by the voters not flagged on their own
    (an honest id that shares an address with a flagged one is not pooled with it).
    """
    opts = AuditOptions() if options is None else options
    if not isinstance(opts, AuditOptions):
        raise RankingError(f"options must be an AuditOptions, not {type(opts).__name__}")
    v = load(data, opts)
    if len(v.models) < 2:
        raise RankingError(f"only one model ({v.models[0]}): nothing to audit")
    n_voters = len(v.voters)
    own_unit = make_unit("voter", v.voter, n_voters)
    primary: Ints | None = None
    if v.group is not None:
        primary, _ = primary_groups(v.voter, v.group, n_voters, v.groups, MISSING_GROUP)
    links: tuple[Ints, Ints] | None = None
    if v.time is not None:
        links = covote_links(v.a, v.b, v.y, v.voter, v.time, n_voters, opts.window, opts.min_covotes)
    own_share = 1.0 - GROUP_SHARE * ((primary is not None) + (links is not None))
    goal = math.log(1 / opts.alpha)
    trusted = np.ones(v.n, dtype=bool)
    prev: _Pass | None = None
    passes = 0
    for _ in range(opts.passes):
        passes += 1
        cons = consensus(v, trusted, opts.neighbours, None if prev is None else prev.cons)
        own = evaluate(v, cons, own_unit, opts, own_share)
        alone = own.total < goal
        evidence = own.total.copy()
        groups: list[_Groups] = []
        if primary is not None:
            of_voter = np.where(alone, primary, -1)
            size = np.bincount(of_voter[of_voter >= 0], minlength=len(v.groups))
            of_voter = np.where((of_voter >= 0) & (size[np.maximum(of_voter, 0)] >= 2), of_voter, -1)
            groups.append(_group("ip", of_voter, list(v.groups), v, cons, opts))
        if links is not None:
            of_voter = components(links[0], links[1], alone, n_voters)
            n_cov = int(of_voter.max()) + 1
            if n_cov:
                groups.append(_group("co-vote", of_voter, [str(k + 1) for k in range(n_cov)], v, cons, opts))
        for grp in groups:
            member = grp.of_voter >= 0
            evidence[member] = np.maximum(evidence[member], grp.result.total[grp.of_voter[member]])
        flagged = evidence >= goal
        prev = _Pass(cons, own, groups, flagged, evidence)
        new_trusted = ~flagged[v.voter]
        if np.array_equal(new_trusted, trusted):
            break
        trusted = new_trusted
    assert prev is not None
    return _report(v, prev, opts, passes)


def _group(
    kind: GroupKind, of_voter: Ints, labels: list[str], v: Votes, cons: Consensus, opts: AuditOptions
) -> _Groups:
    unit = make_unit(kind, of_voter[v.voter], len(labels))
    return _Groups(kind, of_voter, labels, unit, evaluate(v, cons, unit, opts, GROUP_SHARE))


def _report(v: Votes, p: _Pass, opts: AuditOptions, passes: int) -> AuditReport:
    goal = math.log(1 / opts.alpha)
    ln10 = math.log(10)
    votes_per_voter = np.bincount(v.voter, minlength=len(v.voters))
    group_flags: list[GroupFlag] = []
    voter_groups: dict[int, list[GroupFlag]] = {}
    for grp in p.groups:
        by_group: dict[int, list[int]] = {}
        for voter in np.flatnonzero(grp.of_voter >= 0):
            by_group.setdefault(int(grp.of_voter[voter]), []).append(int(voter))
        res, unit = grp.result, grp.unit
        for g, ids in by_group.items():
            flagged = bool(res.total[g] >= goal)
            if not flagged and len(ids) < opts.sybil_ids:
                continue
            lines = reasons_for(v, p.cons, res, g, int(unit.votes[g]), opts)
            if not flagged:
                lines = [f"{len(ids)} voter ids; their {int(unit.votes[g])} pooled votes pass every test"]
            gf = GroupFlag(
                kind=grp.kind,
                key=grp.labels[g],
                voters=sorted(v.voters[i] for i in ids),
                votes=int(unit.votes[g]),
                score=float(res.total[g] / ln10),
                flagged=flagged,
                reasons=lines,
            )
            group_flags.append(gf)
            for i in ids:
                voter_groups.setdefault(i, []).append(gf)
    scores = {name: float(p.evidence[i] / ln10) for i, name in enumerate(v.voters)}
    flags: list[VoterFlag] = []
    for i in map(int, np.flatnonzero(p.flagged)):
        lines = reasons_for(v, p.cons, p.own, i, int(votes_per_voter[i]), opts)
        tests = _merge_concentration({fam: float(val[i] / ln10) for fam, val in p.own.log_e.items()})
        labels = []
        for gf in voter_groups.get(i, []):
            labels.append(gf.label)
            tests[gf.kind] = gf.score
            if gf.flagged:
                what = (
                    f"one of {len(gf.voters)} voter ids behind {opts.group or GROUP_DEFAULT} {gf.key}"
                    if gf.kind == "ip"
                    else f"one of {len(gf.voters)} voter ids that voted the same way on the same pairs "
                    f"within {opts.window / 60:g} minutes (co-vote group {gf.key})"
                )
                lines.append(f"coordinated: {what}; their {gf.votes} pooled votes: {gf.reasons[0]}")
        first = int(p.own.first_step[i])
        own_fired = bool(p.own.total[i] >= goal)
        flags.append(
            VoterFlag(
                voter=v.voters[i],
                score=float(p.evidence[i] / ln10),
                reasons=lines,
                votes=int(votes_per_voter[i]),
                flagged_at=first if own_fired and first > 0 else None,
                tests=tests,
                groups=labels,
            )
        )
    flags.sort(key=lambda f: (-f.score, f.voter))
    group_flags.sort(key=lambda g: (not g.flagged, -g.score, g.kind, g.key))
    return AuditReport(
        flags=flags,
        groups=group_flags,
        alpha=opts.alpha,
        n_votes=v.n,
        n_voters=len(v.voters),
        excluded_votes=int(p.flagged[v.voter].sum()),
        passes=passes,
        scores=scores,
        notes=list(v.notes),
        skipped=dict(v.skipped),
    )


def _merge_concentration(tests: dict[str, float]) -> dict[str, float]:
    if "cluster" in tests:
        tests["concentration"] = max(tests.get("concentration", -math.inf), tests.pop("cluster"))
    return {k: (v if math.isfinite(v) else -99.0) for k, v in tests.items()}
