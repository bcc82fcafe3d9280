"""The entry points: votes in, one leaderboard (:func:`rank`), one per group
(:func:`rank_groups`) or one per connected part of the comparison graph
(:func:`rank_components`) out.

Each takes the votes (:data:`ranking.io.VoteSource`) and a :class:`RankOptions`;
keyword arguments override its fields (``rank(df, ci="bootstrap")``). Bad input raises
:class:`RankingError` with a one-line message.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal, Unpack

import numpy as np
import numpy.typing as npt

from . import bt
from .bootstrap import Replicas, bootstrap
from .counts import Counts, aggregate
from .design import (
    DRAW,
    LOSS,
    WIN,
    Pairs,
    build_pairs,
    check_connected,
    check_mle_exists,
    describe_components,
    subset_pairs,
)
from .errors import RankingError
from .groups import grouped
from .intervals import normal_ci, normal_draws, param_se, percentile_ci, rank_interval, rank_ub, ranks, sandwich_cov
from .io import A_WINS, B_WINS, BOTH_BAD, VoteSource, VoteStream, open_votes
from .options import MIN_VOTES, RankKwargs, RankOptions, check_integer, with_overrides
from .result import BoardRow, Diagnostics, Leaderboard, PairMatrices, TooSmall

if TYPE_CHECKING:
    from .contextual import StyleFit

SCALE = 400 / math.log(10)  # Elo points per unit of natural-log strength
BASE_RATING = 1000.0


def rank(data: VoteSource, options: RankOptions | None = None, **overrides: Unpack[RankKwargs]) -> Leaderboard:
    """Rank models from pairwise votes: one leaderboard.

    ``data``: a DataFrame, an arrow Table or a path (Parquet, CSV, JSONL, FastChat JSON)
    with ``model_a``, ``model_b``, ``winner``; optional ``count`` (pre-aggregated rows),
    voter column (``judge``/``judge_hash``/``voter``, or ``voter=``) and ``weight=``
    column. ``options`` (default :class:`RankOptions()`), with ``overrides`` applied.

    Raises :class:`RankingError` for bad input, including a disconnected comparison
    graph (its message names the components; :func:`rank_components` fits each).
    """
    opts = with_overrides(options, overrides)
    timings: dict[str, float] = {}
    if opts.style == "controlled":
        counts, rows = _style_rows(data, opts, by=None, timings=timings)
        return _with_skipped(_style_board(counts, rows, opts, group=None, timings=timings), counts)
    device = _device(opts)
    counts = _aggregate(data, opts, by=None, timings=timings)
    return _with_skipped(board_from_counts(counts, opts, device=device, timings=timings), counts)


def rank_groups(
    data: VoteSource,
    by: str,
    options: RankOptions | None = None,
    *,
    min_votes: int = MIN_VOTES,
    **overrides: Unpack[RankKwargs],
) -> dict[str, Leaderboard | TooSmall]:
    """One leaderboard per value of column ``by`` (category, language, ...).

    Returns group label (the value as a string; "(missing)" for missing values) ->
    :class:`Leaderboard`, or :class:`TooSmall` for a group with fewer than
    ``min_votes`` votes or whose votes cannot be fitted (one model, a disconnected
    graph; the reason says which), largest group first. Each group is fitted on its own
    votes with its own intervals. Raises :class:`RankingError` for bad input.
    """
    opts = with_overrides(options, overrides)
    if not isinstance(by, str) or not by:
        raise RankingError(f"by must be a column name, not {by!r}")
    min_votes = check_integer("min_votes", min_votes, minimum=0)
    timings: dict[str, float] = {}
    if opts.style == "controlled":
        counts, rows = _style_rows(data, opts, by=by, timings=timings)
        return grouped(
            counts,
            min_votes,
            lambda g: _with_skipped(_style_board(counts, rows, opts, group=g, timings=timings), counts),
        )
    device = _device(opts)
    counts = _aggregate(data, opts, by=by, timings=timings)
    return grouped(
        counts,
        min_votes,
        lambda g: _with_skipped(board_from_counts(counts, opts, group=g, device=device, timings=timings), counts),
    )


def rank_components(
    data: VoteSource, options: RankOptions | None = None, **overrides: Unpack[RankKwargs]
) -> dict[str, Leaderboard]:
    """One leaderboard per connected component of the comparison graph.

    Ratings in different components are not comparable, so each is fitted on its own.
    Returns "component 1", "component 2", ... -> :class:`Leaderboard`, largest first;
    one entry when the graph is connected. Raises :class:`RankingError` for bad input.
    """
    opts = with_overrides(options, overrides)
    if opts.style != "none":
        raise RankingError("style control fits connected boards: rank or rank_groups, not rank_components")
    device = _device(opts)
    timings: dict[str, float] = {}
    counts = _aggregate(data, opts, by=None, timings=timings)
    pairs = _pairs(counts, opts, group=None)
    return {
        f"component {k + 1}": _with_skipped(
            fit_board(subset_pairs(pairs, c), opts, device=device, timings=dict(timings)), counts
        )
        for k, c in enumerate(check_connected(pairs))
    }


@dataclass
class _StyleRows:
    """The per-vote rows of a style-controlled fit, as read (model codes of ``models``)."""

    models: list[object]
    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    winner: npt.NDArray[np.int8]
    features: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float64]
    voter: npt.NDArray[np.int64] | None
    group: npt.NDArray[np.int64] | None
    names: list[str]


def _style_rows(
    data: VoteSource, opts: RankOptions, *, by: str | None, timings: dict[str, float]
) -> tuple[Counts, _StyleRows]:
    """Style control reads every vote: counts (for votes, win rates and the comparison
    graph) and the per-vote rows with their features."""
    cluster = opts.ci == "cluster"
    src = open_votes(
        data,
        weight=opts.weight,
        strict=opts.strict,
        all_battles=opts.all_battles,
        style=True,
        voter=opts.voter,
        need_voter=cluster,
        by=by,
    )
    t_read = time.perf_counter()
    batches = [b for b in src.batches if len(b.a)]
    timings["read"] = time.perf_counter() - t_read
    replay = VoteStream(iter(batches), src.columns, src.total_rows, src.models, src.voters, src.groups)
    replay.skipped = src.skipped
    counts = aggregate(replay, progress=opts.progress, timings=timings)

    def cat(parts: list[np.ndarray | None]) -> np.ndarray:
        return np.concatenate([p for p in parts if p is not None])

    rows = _StyleRows(
        models=src.models.values,
        a=cat([b.a for b in batches]),
        b=cat([b.b for b in batches]),
        winner=cat([b.winner for b in batches]),
        features=cat([b.style for b in batches]),
        weight=cat([b.weight if b.weight is not None else np.ones(len(b.a)) for b in batches]),
        voter=cat([b.voter for b in batches]) if cluster else None,
        group=cat([b.group for b in batches]) if by is not None else None,
        names=src.columns.style_names,
    )
    return counts, rows


def _style_board(
    counts: Counts, rows: _StyleRows, opts: RankOptions, *, group: int | None, timings: dict[str, float]
) -> Leaderboard:
    """The contextual fit of one board (of one group) and its leaderboard."""
    timings = dict(timings)
    pairs = _pairs(counts, opts, group=group)
    comps = check_connected(pairs)
    if len(comps) > 1:
        raise RankingError(describe_components(comps))
    winner = rows.winner
    keep = np.ones(len(winner), dtype=bool) if group is None or rows.group is None else rows.group == group
    if opts.ties == "drop":
        keep &= (winner == A_WINS) | (winner == B_WINS)
    elif opts.both_bad == "drop":
        keep &= winner != BOTH_BAD
    index = {name: k for k, name in enumerate(pairs.models)}
    lut = np.array([index.get(str(v), -1) for v in rows.models], dtype=np.int64)
    winner = winner[keep]
    y = np.where(winner == A_WINS, 1.0, np.where(winner == B_WINS, 0.0, 0.5))
    from .contextual import fit_style  # scipy: only with style control

    t0 = time.perf_counter()
    sf = fit_style(
        lut[rows.a[keep]],
        lut[rows.b[keep]],
        y,
        rows.weight[keep],
        rows.features[keep],
        rows.names,
        pairs.n_models,
        position=opts.position,
        prior=opts.prior,
        reg=opts.style_reg,
        tol=opts.tol,
        cluster=None if rows.voter is None else rows.voter[keep],
    )
    timings["style_fit"] = time.perf_counter() - t0
    return fit_board(pairs, opts, device="cpu", timings=timings, style=sf)


def _with_skipped(board: Leaderboard, counts: Counts) -> Leaderboard:
    """Record on the board the rows of the input that were skipped (by reason)."""
    board.diagnostics["skipped"] = dict(counts.skipped)
    return board


def board_from_counts(
    counts: Counts,
    options: RankOptions,
    *,
    group: int | None = None,
    device: str = "cpu",
    timings: dict[str, float] | None = None,
) -> Leaderboard:
    """Fit one leaderboard from aggregated counts (of one group); the comparison graph
    must be connected. ``device`` is a resolved device ("cpu", "cuda", "cuda:N")."""
    pairs = _pairs(counts, options, group=group)
    comps = check_connected(pairs)
    if len(comps) > 1:
        raise RankingError(describe_components(comps))
    return fit_board(pairs, options, device=device, timings=dict(timings or {}))


def _aggregate(data: VoteSource, opts: RankOptions, *, by: str | None, timings: dict[str, float]) -> Counts:
    src = open_votes(
        data,
        voter=opts.voter,
        need_voter=opts.ci == "cluster",
        by=by,
        weight=opts.weight,
        strict=opts.strict,
        all_battles=opts.all_battles,
    )
    return aggregate(src, progress=opts.progress, timings=timings)


def _pairs(counts: Counts, opts: RankOptions, *, group: int | None) -> Pairs:
    pairs = build_pairs(
        counts,
        ties=opts.ties,
        both_bad=opts.both_bad,
        position=opts.position,
        reweight=opts.reweight,
        group=group,
        with_voters=opts.ci == "cluster",
    )
    if pairs.n_models < 2:
        raise RankingError(f"only one model ({pairs.models[0]}): nothing to rank")
    return pairs


def _device(opts: RankOptions) -> str:
    """Where the bootstrap runs; the sandwich always runs on the CPU."""
    return "cpu" if opts.ci == "sandwich" else resolve_device(opts.device)


def resolve_device(device: str) -> str:
    """ "auto" is "cuda" when torch sees a GPU, else "cpu" (numpy). Without an NVIDIA
    driver on the machine torch is not even imported (the import alone takes ~1 s)."""
    if device == "cpu":
        return "cpu"
    if device not in ("auto", "cuda") and not device.startswith("cuda:"):
        raise RankingError(f"device must be auto, cpu or cuda, not {device!r}")
    has_cuda = (os.path.exists("/dev/nvidiactl") or device != "auto") and _torch_cuda()
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise RankingError(f"device={device!r} needs torch with CUDA, which is not available")
    return device


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def fit_board(
    pairs: Pairs,
    options: RankOptions,
    *,
    device: str,
    timings: dict[str, float],
    style: StyleFit | None = None,
) -> Leaderboard:
    """Fit, intervals, ranks, matrices and diagnostics for one connected board; with
    ``style`` (a contextual fit of the same votes) its θ and sandwich replace the plain fit."""
    o = options
    family: Literal["bt", "davidson"] = "davidson" if o.ties == "davidson" else "bt"
    if o.prior == 0:
        check_mle_exists(pairs)
    t0 = time.perf_counter()
    f = bt.fit(pairs, family, prior=o.prior, tol=o.tol) if style is None else style.fit
    t1 = time.perf_counter()
    boot: Replicas | None = None
    if style is not None:
        cov = style.cov
        lo, hi = normal_ci(f.theta, cov, o.level)
        reps = normal_draws(f.theta, cov, o.rounds, o.seed)
    elif o.ci == "sandwich":
        cov = sandwich_cov(pairs, f)
        lo, hi = normal_ci(f.theta, cov, o.level)
        reps = normal_draws(f.theta, cov, o.rounds, o.seed)
    else:
        boot = bootstrap(
            pairs,
            f,
            rounds=o.rounds,
            seed=o.seed,
            kind="cells" if o.ci == "bootstrap" else "voters",
            device=device,
            progress=o.progress,
            tol=o.tol,
        )
        reps = boot.theta
        lo, hi = percentile_ci(reps, o.level)
    timings.update(fit=t1 - t0, intervals=time.perf_counter() - t1)

    shift = BASE_RATING
    if o.anchor is not None:
        if o.anchor[0] not in pairs.models:
            raise RankingError(f"anchor model {o.anchor[0]!r} is not among the ranked models")
        shift = o.anchor[1] - SCALE * float(f.theta[pairs.models.index(o.anchor[0])])
    rating = shift + SCALE * f.theta
    ci_low, ci_high = shift + SCALE * lo, shift + SCALE * hi
    rank_lo, rank_hi = rank_interval(reps, o.level)
    order = np.argsort(-rating, kind="stable")

    m = pairs.n_models
    raw = pairs.counts
    votes = np.bincount(pairs.i, raw.sum(0), m) + np.bincount(pairs.j, raw.sum(0), m)
    score = np.bincount(pairs.i, raw[WIN] + 0.5 * raw[DRAW], m) + np.bincount(pairs.j, raw[LOSS] + 0.5 * raw[DRAW], m)
    win_rate = np.divide(score, votes, out=np.full(len(votes), np.nan), where=votes > 0)
    rk, ub = ranks(rating), rank_ub(ci_low, ci_high)
    rows = tuple(
        BoardRow(
            model=pairs.models[k],
            rating=float(rating[k]),
            ci_low=float(ci_low[k]),
            ci_high=float(ci_high[k]),
            rank=int(rk[k]),
            rank_ub=int(ub[k]),
            rank_low=int(rank_lo[k]),
            rank_high=int(rank_hi[k]),
            votes=int(round(votes[k])),
            win_rate=float(win_rate[k]),
            provisional=bool(votes[k] < o.provisional_votes),
        )
        for k in order
    )

    pair_ids = np.minimum(pairs.i, pairs.j) * m + np.maximum(pairs.i, pairs.j)
    diagnostics = Diagnostics(
        converged=f.converged,
        iterations=f.iterations,
        grad_norm=f.grad_norm,
        tol=o.tol,
        ci=o.ci,
        level=o.level,
        rounds=o.rounds if o.ci != "sandwich" and style is None else 0,
        seed=o.seed,
        n_votes=float(raw.sum()),
        n_models=m,
        n_pairs=len(np.unique(pair_ids)),
        family=family,
        prior=o.prior,
        anchor=o.anchor,
        loglik=f.loglik,
        ties=o.ties,
        both_bad=o.both_bad,
        reweight=o.reweight,
        position=o.position,
        device=device,
        timings=timings,
    )
    if boot is not None:
        diagnostics["bootstrap_unconverged"] = boot.unconverged
        diagnostics["bootstrap_max_grad_norm"] = boot.max_grad
    if o.ci == "cluster" and pairs.voters is not None:
        diagnostics["n_voters"] = int(pairs.voters.shape[0])
    style_coef: dict[str, float] | None = None
    style_ci: dict[str, tuple[float, float]] | None = None
    if style is not None:
        z = NormalDist().inv_cdf(0.5 + o.level / 2)
        style_coef = {k: float(v) for k, v in zip(style.names, style.beta, strict=True)}
        style_ci = {
            k: (float(v - z * s), float(v + z * s))
            for k, v, s in zip(style.names, style.beta, style.beta_se, strict=True)
        }
        diagnostics["style"] = o.style
        diagnostics["style_reg"] = o.style_reg
        diagnostics["style_dropped"] = list(style.dropped)
        if f.position is not None and style.position_se is not None:
            diagnostics["position_advantage"] = SCALE * f.position
            diagnostics["position_advantage_se"] = SCALE * style.position_se
    elif f.position is not None or f.tie_param is not None:
        se = param_se(pairs, f)
        if f.position is not None:
            diagnostics["position_advantage"] = SCALE * f.position
            diagnostics["position_advantage_se"] = SCALE * float(se[m])
        if f.tie_param is not None:
            diagnostics["tie_param"] = f.tie_param
    return Leaderboard(
        rows=rows,
        matrices=_matrices(pairs, f, order),
        diagnostics=diagnostics,
        replicas=shift + SCALE * reps[:, order],
        style=style_coef,
        style_ci=style_ci,
    )


def _matrices(pairs: Pairs, f: bt.Fit, order: npt.NDArray[np.intp]) -> PairMatrices:
    """Observed score share, predicted score share and battle counts, in row order."""
    m = pairs.n_models
    raw = pairs.counts
    n = np.zeros((m, m))
    s = np.zeros((m, m))
    np.add.at(n, (pairs.i, pairs.j), raw.sum(0))
    np.add.at(s, (pairs.i, pairs.j), raw[WIN] + 0.5 * raw[DRAW])
    np.add.at(s, (pairs.j, pairs.i), raw[LOSS] + 0.5 * raw[DRAW])
    n = n + n.T
    observed = np.divide(s, n, out=np.full((m, m), np.nan), where=n > 0)
    ix = np.ix_(order, order)
    return PairMatrices(
        models=tuple(pairs.models[k] for k in order),
        observed=observed[ix],
        predicted=bt.predicted(f, m)[ix],
        battles=n.round().astype(np.int64)[ix],
    )
