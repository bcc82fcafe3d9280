"""``rank()``: votes in, leaderboard(s) out. The one entry point most users need."""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from . import bt
from .bootstrap import bootstrap
from .counts import Counts, aggregate
from .design import (DRAW, LOSS, WIN, Pairs, build_pairs, check_connected, check_mle_exists,
                     describe_components, subset_pairs)
from .errors import RankingError
from .groups import grouped
from .intervals import (normal_ci, normal_draws, param_se, percentile_ci, rank_interval,
                        rank_ub, ranks, sandwich_cov)
from .io import open_votes
from .result import Leaderboard

SCALE = 400 / math.log(10)   # Elo points per unit of natural-log strength
BASE_RATING = 1000.0
MIN_VOTES = 300              # smallest group that gets its own leaderboard
PROVISIONAL_VOTES = 300      # models with fewer votes are flagged provisional
CI_METHODS = ("sandwich", "bootstrap", "cluster")


def rank(data: Any, *, ci: str = "sandwich", rounds: int = 1000, level: float = 0.95,
         ties: str = "half", both_bad: str = "tie", anchor: tuple[str, float] | None = None,
         by: str | None = None, min_votes: int = MIN_VOTES,
         provisional_votes: int = PROVISIONAL_VOTES, seed: int = 0, reweight: bool = False,
         position: bool = False, components: str = "error", progress: bool = False,
         prior: float = bt.PRIOR, voter: str | None = None, weight: str | None = None,
         device: str = "auto", tol: float = bt.TOL) -> Any:
    """Rank models from pairwise votes.

    ``data``: a DataFrame, an arrow Table or a path (Parquet, CSV, JSONL, FastChat JSON)
    with ``model_a``, ``model_b``, ``winner``; optional ``count`` (pre-aggregated rows),
    voter column (``judge``/``judge_hash``/``voter``, or ``voter=``), ``weight=`` column
    and ``by=`` column.

    ``ci``: "sandwich" (robust SEs, default), "bootstrap" (multinomial over cells,
    ``rounds`` seeded rounds) or "cluster" (resample voters). ``ties``: "half" (a tie is
    half a win each, LMArena), "drop", or "davidson" (Davidson's tie model).
    ``both_bad``: "tie" or "drop". ``anchor=("model", 1114)`` shifts the scale so that
    model has that rating (intervals keep their width). ``position=True`` fits a
    first-position (model_a) advantage, reported in diagnostics. ``reweight=True``
    weighs each vote by 1/max(pair count, 50) as arena-rank does. ``prior``: virtual
    ties per model against the mean (see :mod:`ranking.bt`; 0 = plain MLE). ``device``: "auto", "cpu"
    or "cuda" for the bootstrap (torch when CUDA is present).

    Returns a :class:`Leaderboard`. With ``by=``, a dict group -> Leaderboard or
    :class:`TooSmall`, largest group first. With ``components="separate"`` and a
    disconnected graph, a dict "component k" -> Leaderboard (largest first) in place of
    the single Leaderboard. Bad input raises :class:`RankingError`.
    """
    opts = _check_options(ci=ci, rounds=rounds, level=level, anchor=anchor,
                          components=components, device=device, min_votes=min_votes,
                          prior=prior)
    timings: dict[str, float] = {}
    src = open_votes(data, voter=voter, need_voter=ci == "cluster", by=by, weight=weight)
    counts = aggregate(src, progress=progress, timings=timings)
    settings = dict(ci=ci, rounds=rounds, level=level, ties=ties, both_bad=both_bad,
                    anchor=opts["anchor"], provisional_votes=provisional_votes, seed=seed,
                    reweight=reweight, position=position, components=components,
                    progress=progress, prior=prior, device=opts["device"], tol=tol,
                    timings=timings)
    if by is not None:
        return grouped(counts, min_votes, lambda g: board_from_counts(counts, group=g, **settings))
    return board_from_counts(counts, **settings)


def _check_options(*, ci: str, rounds: int, level: float, anchor: Any, components: str,
                   device: str, min_votes: int, prior: float) -> dict:
    if ci not in CI_METHODS:
        raise RankingError(f"ci must be one of {', '.join(CI_METHODS)}, not {ci!r}")
    if not 0 < level < 1:
        raise RankingError(f"level must be between 0 and 1, not {level}")
    if int(rounds) < 1:
        raise RankingError("rounds must be at least 1")
    if components not in ("error", "separate"):
        raise RankingError("components must be 'error' or 'separate'")
    if prior < 0 or min_votes < 0:
        raise RankingError("prior and min_votes must be non-negative")
    if anchor is not None:
        if isinstance(anchor, str):
            anchor = parse_anchor(anchor)
        if len(anchor) != 2:
            raise RankingError("anchor must be (model, rating)")
        anchor = (str(anchor[0]), float(anchor[1]))
    return {"anchor": anchor, "device": resolve_device(device) if ci != "sandwich" else "cpu"}


def parse_anchor(text: str) -> tuple[str, float]:
    """"model=1114" -> ("model", 1114.0); the model name may itself contain "="."""
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise RankingError(f"anchor must look like MODEL=RATING, not {text!r}") from None


def resolve_device(device: str) -> str:
    """"auto" is "cuda" when torch sees a GPU, else "cpu" (numpy). Without an NVIDIA
    driver on the machine torch is not even imported (the import alone takes ~1 s)."""
    if device == "cpu":
        return "cpu"
    if device not in ("auto", "cuda") and not device.startswith("cuda:"):
        raise RankingError(f"device must be auto, cpu or cuda, not {device!r}")
    torch = None
    if os.path.exists("/dev/nvidiactl") or device != "auto":
        try:
            import torch
        except ImportError:
            pass
    has_cuda = torch is not None and torch.cuda.is_available()
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise RankingError("device='cuda' needs torch with CUDA, which is not available")
    return device


def board_from_counts(counts: Counts, *, group: int | None = None, ci: str = "sandwich",
                      rounds: int = 1000, level: float = 0.95, ties: str = "half",
                      both_bad: str = "tie", anchor: tuple[str, float] | None = None,
                      provisional_votes: int = PROVISIONAL_VOTES, seed: int = 0,
                      reweight: bool = False, position: bool = False,
                      components: str = "error", progress: bool = False,
                      prior: float = bt.PRIOR, device: str = "cpu", tol: float = bt.TOL,
                      timings: dict | None = None) -> Any:
    """Fit one leaderboard (or one per component) from aggregated counts."""
    pairs = build_pairs(counts, ties=ties, both_bad=both_bad, position=position,
                        reweight=reweight, group=group, with_voters=ci == "cluster")
    if pairs.n_models < 2:
        raise RankingError(f"only one model ({pairs.models[0]}): nothing to rank")
    comps = check_connected(pairs)
    args = dict(ci=ci, rounds=rounds, level=level, family="davidson" if ties == "davidson" else "bt",
                anchor=anchor, provisional_votes=provisional_votes, seed=seed, progress=progress,
                prior=prior, device=device, tol=tol,
                settings={"ties": ties, "both_bad": both_bad, "reweight": reweight,
                          "position": position}, timings=dict(timings or {}))
    if len(comps) == 1:
        return fit_board(pairs, **args)
    if components == "error":
        raise RankingError(describe_components(comps))
    return {f"component {k + 1}": fit_board(subset_pairs(pairs, c), **args)
            for k, c in enumerate(comps) if len(c) > 1}


def fit_board(pairs: Pairs, *, ci: str, rounds: int, level: float, family: str,
              anchor: tuple[str, float] | None, provisional_votes: int, seed: int,
              progress: bool, prior: float, device: str, tol: float, settings: dict,
              timings: dict) -> Leaderboard:
    """Fit, intervals, ranks, matrices and diagnostics for one connected board."""
    if prior == 0:
        check_mle_exists(pairs)
    t0 = time.perf_counter()
    f = bt.fit(pairs, family, prior=prior, tol=tol)
    t1 = time.perf_counter()
    diag_ci: dict[str, Any] = {}
    if ci == "sandwich":
        cov = sandwich_cov(pairs, f)
        lo, hi = normal_ci(f.theta, cov, level)
        reps = normal_draws(f.theta, cov, rounds, seed)
    else:
        rep = bootstrap(pairs, f, rounds=rounds, seed=seed,
                        kind="cells" if ci == "bootstrap" else "voters",
                        device=device, progress=progress, tol=tol)
        reps = rep.theta
        lo, hi = percentile_ci(reps, level)
        diag_ci = {"bootstrap_unconverged": rep.unconverged,
                   "bootstrap_max_grad_norm": rep.max_grad, "device": device}
        if ci == "cluster":
            diag_ci["n_voters"] = int(pairs.voters.shape[0])
    timings.update(fit=t1 - t0, intervals=time.perf_counter() - t1)

    shift = BASE_RATING
    if anchor is not None:
        if anchor[0] not in pairs.models:
            raise RankingError(f"anchor model {anchor[0]!r} is not among the ranked models")
        shift = anchor[1] - SCALE * f.theta[pairs.models.index(anchor[0])]
    rating = shift + SCALE * f.theta
    ci_low, ci_high = shift + SCALE * lo, shift + SCALE * hi
    rank_lo, rank_hi = rank_interval(reps, level)
    order = np.argsort(-rating, kind="stable")

    raw = pairs.counts
    votes = np.bincount(pairs.i, raw.sum(0), pairs.n_models) + np.bincount(pairs.j, raw.sum(0), pairs.n_models)
    score = (np.bincount(pairs.i, raw[WIN] + 0.5 * raw[DRAW], pairs.n_models)
             + np.bincount(pairs.j, raw[LOSS] + 0.5 * raw[DRAW], pairs.n_models))
    win_rate = np.divide(score, votes, out=np.full(len(votes), np.nan), where=votes > 0)
    rk, ub = ranks(rating), rank_ub(ci_low, ci_high)
    rows = [{"model": pairs.models[k], "rating": float(rating[k]), "ci_low": float(ci_low[k]),
             "ci_high": float(ci_high[k]), "rank": int(rk[k]), "rank_ub": int(ub[k]),
             "rank_low": int(rank_lo[k]), "rank_high": int(rank_hi[k]),
             "votes": int(round(votes[k])), "win_rate": float(win_rate[k]),
             "provisional": bool(votes[k] < provisional_votes)} for k in order]

    diagnostics = {
        "converged": f.converged, "iterations": f.iterations, "grad_norm": f.grad_norm,
        "tol": tol, "ci": ci, "level": level, "rounds": rounds if ci != "sandwich" else 0,
        "seed": seed, "n_votes": float(raw.sum()), "n_models": pairs.n_models,
        "n_pairs": int(len(set(zip(np.minimum(pairs.i, pairs.j).tolist(), np.maximum(pairs.i, pairs.j).tolist())))),
        "family": family, "prior": prior, "anchor": list(anchor) if anchor else None,
        "loglik": f.loglik, **settings, **diag_ci,
    }
    if f.position is not None or f.tie_param is not None:
        se = param_se(pairs, f)
        m = pairs.n_models
        if f.position is not None:
            diagnostics["position_advantage"] = SCALE * f.position
            diagnostics["position_advantage_se"] = SCALE * se[m]
        if f.tie_param is not None:
            diagnostics["tie_param"] = f.tie_param
    diagnostics["timings"] = timings
    return Leaderboard(rows=rows, diagnostics=diagnostics, replicas=shift + SCALE * reps[:, order],
                       **_matrices(pairs, f, order))


def _matrices(pairs: Pairs, f: bt.Fit, order: np.ndarray) -> dict[str, pd.DataFrame]:
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
    names = [pairs.models[k] for k in order]
    ix = np.ix_(order, order)
    frame = lambda a: pd.DataFrame(a[ix], index=pd.Index(names, name="model"), columns=names)
    return {"win_rate_matrix": frame(observed), "predicted_win_rate": frame(bt.predicted(f, m)),
            "battle_counts": frame(n.round().astype(np.int64))}
