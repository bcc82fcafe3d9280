"""Open Arena's ranking engine: pairwise votes -> Bradley-Terry leaderboards with
honest intervals, fast on millions of votes.

Pipeline: :mod:`io` (read, stream, code strings) -> :mod:`counts` (sufficient
statistics) -> :mod:`design` (tie conventions, rows) -> :mod:`bt` (Newton MLE) ->
:mod:`intervals` / :mod:`bootstrap` (sandwich, cell and voter-cluster bootstrap) ->
:mod:`result`. :func:`rank` runs it all; :func:`online_elo` is the classic online Elo
for comparison. Pure library: numpy, scipy, pandas, pyarrow (+ torch, tqdm optional).
"""

from .api import rank
from .elo import online_elo
from .errors import RankingError
from .io import aggregation_query, read_database
from .result import Leaderboard, TooSmall

__all__ = ["rank", "online_elo", "RankingError", "Leaderboard", "TooSmall",
           "aggregation_query", "read_database"]
