"""Open Arena's ranking engine: pairwise votes -> Bradley-Terry leaderboards with
honest intervals, fast on millions of votes.

Pipeline: :mod:`io` (read, stream, code strings) -> :mod:`counts` (sufficient
statistics) -> :mod:`design` (tie conventions, rows) -> :mod:`bt` (Newton MLE) ->
:mod:`intervals` / :mod:`bootstrap` (sandwich, cell and voter-cluster bootstrap) ->
:mod:`result`. Entry points, each with one return type: :func:`rank` (one
:class:`Leaderboard`), :func:`rank_groups` (one per value of a column, or
:class:`TooSmall`), :func:`rank_components` (one per connected part of the comparison
graph); all take a :class:`RankOptions`. :func:`online_elo` is the classic online Elo
for comparison. :func:`audit` (:mod:`ranking.fraud`) flags anomalous and rigging voters
with anytime-valid tests against the consensus board. Pure library: numpy, scipy,
pandas, pyarrow (+ torch, tqdm optional).

The numerical modules load on first use of a name that needs them, so importing
``ranking`` (or ``ranking.cli``) costs milliseconds, not the ~0.5 s of numpy, pandas
and scipy; ranking a Parquet or CSV file loads numpy and pyarrow only (pandas and scipy
come in for the inputs and options that use them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import RankingError
from .lazy import lazy_exports
from .options import RankKwargs, RankOptions, parse_anchor

if TYPE_CHECKING:
    from .api import rank, rank_components, rank_groups
    from .elo import online_elo
    from .fraud import AuditOptions, AuditReport, GroupFlag, VoterFlag, audit
    from .io import VoteSource, aggregation_query, read_database
    from .result import BoardRow, BoardRowDict, Diagnostics, Leaderboard, PairMatrices, TooSmall
    from .skipped import describe_skipped
    from .style import style_features

_LAZY = {
    "rank": "api",
    "rank_groups": "api",
    "rank_components": "api",
    "online_elo": "elo",
    "VoteSource": "io",
    "aggregation_query": "io",
    "read_database": "io",
    "BoardRow": "result",
    "BoardRowDict": "result",
    "Diagnostics": "result",
    "Leaderboard": "result",
    "PairMatrices": "result",
    "TooSmall": "result",
    "audit": "fraud",
    "AuditOptions": "fraud",
    "AuditReport": "fraud",
    "VoterFlag": "fraud",
    "GroupFlag": "fraud",
    "style_features": "style",
    "describe_skipped": "skipped",
}

__all__ = [
    "rank",
    "rank_groups",
    "rank_components",
    "RankOptions",
    "RankKwargs",
    "RankingError",
    "Leaderboard",
    "PairMatrices",
    "BoardRow",
    "BoardRowDict",
    "Diagnostics",
    "TooSmall",
    "VoteSource",
    "online_elo",
    "parse_anchor",
    "aggregation_query",
    "read_database",
    "audit",
    "AuditOptions",
    "AuditReport",
    "VoterFlag",
    "GroupFlag",
    "style_features",
    "describe_skipped",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
