"""Readers: votes from a DataFrame, Parquet, CSV, JSONL, FastChat JSON or a database.

Every reader yields :class:`Batch` objects whose string columns are already integer
codes, so no later step touches strings. The codes come from one :class:`Vocab` per
column that grows as new values appear, which lets a Parquet file be read in streaming
batches: per batch we map the (small) dictionary of a dictionary-encoded column once
and gather, instead of hashing millions of strings.

Conventions (FastChat / LMArena): ``model_a`` is the first (left) position,
``winner`` is one of ``model_a``, ``model_b``, ``tie``, ``both_bad`` or FastChat's
``tie (bothbad)``. A ``count`` column marks pre-aggregated rows (the arena's
``GROUP BY ... COUNT(*) AS count`` query).

Parquet and CSV files are read with pyarrow alone: pandas is imported only for what
needs it (a DataFrame given, JSON files, ``--by`` values, times, style columns, an
``anony`` column that is neither boolean, numeric nor text), so ``arena rank FILE``
does not pay its import.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .errors import RankingError
from .skipped import SKIP_REASONS, describe_skipped
from .style import (
    CONVERSATION_COLUMNS,
    METADATA_COLUMN,
    STYLE_FEATURES,
    STYLE_PREFIX,
    features_of_conversations,
    features_of_metadata,
)

if TYPE_CHECKING:
    import pandas as pd

VoteSource: TypeAlias = "pd.DataFrame | pa.Table | str | os.PathLike[str]"
"""What the entry points read: a DataFrame, an arrow Table, or the path of a Parquet,
CSV, JSONL or FastChat JSON file."""
Codes = npt.NDArray[np.int64]

A_WINS, B_WINS, TIE, BOTH_BAD = 0, 1, 2, 3
OUTCOMES = ("model_a", "model_b", "tie", "both_bad")
WINNER_CODES = {"model_a": A_WINS, "model_b": B_WINS, "tie": TIE, "both_bad": BOTH_BAD, "tie (bothbad)": BOTH_BAD}
VOTER_COLUMNS = ("judge", "judge_hash", "voter")
TIME_COLUMNS = ("tstamp", "timestamp", "time", "created_at")
ANONY_COLUMN = "anony"
TRUE_WORDS = ("true", "t", "yes", "1")  # an anony value that is one of these (any case) is true
UNKNOWN_LABEL, NO_LABEL = -1, -2  # winner codes of rows that are skipped
BATCH_ROWS = 1 << 20


class Vocab:
    """Values -> stable integer codes in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[object, int] = {}
        self.values: list[object] = []

    def codes(self, uniques: Sequence[object]) -> Codes:
        out = np.empty(len(uniques), dtype=np.int64)
        for k, value in enumerate(uniques):
            code = self.index.get(value)
            if code is None:
                code = self.index[value] = len(self.values)
                self.values.append(value)
            out[k] = code
        return out

    def nullable_codes(self, uniques: Sequence[object]) -> Codes:
        """:meth:`codes`, with -1 for a missing value (None, NaN or an empty string)."""
        missing = np.array([_is_missing(u) for u in uniques], dtype=bool)
        out = np.full(len(uniques), -1, dtype=np.int64)
        if (~missing).any():
            out[~missing] = self.codes([u for u, m in zip(uniques, missing, strict=True) if not m])
        return out


def _is_missing(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


@dataclass
class Batch:
    """One chunk of votes (or of pre-aggregated rows) as integer codes."""

    a: np.ndarray
    b: np.ndarray
    winner: np.ndarray
    count: np.ndarray | None = None
    weight: np.ndarray | None = None
    voter: np.ndarray | None = None
    group: np.ndarray | None = None
    time: np.ndarray | None = None
    style: np.ndarray | None = None  # rows × style features (raw, not standardised)
    rows: int = -1  # rows read for this batch, skipped ones included (-1: len(a))

    def take(self, keep: npt.NDArray[np.bool_]) -> Batch:
        """The rows where ``keep`` is true (``rows`` still counts every row read)."""

        def sub(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else x[keep]

        return Batch(
            a=self.a[keep],
            b=self.b[keep],
            winner=self.winner[keep],
            count=sub(self.count),
            weight=sub(self.weight),
            voter=sub(self.voter),
            group=sub(self.group),
            time=sub(self.time),
            style=sub(self.style),
            rows=len(self.a) if self.rows < 0 else self.rows,
        )


@dataclass
class Columns:
    """Which source columns feed which role; None means absent."""

    count: str | None = None
    weight: str | None = None
    voter: str | None = None
    group: str | None = None
    time: str | None = None
    anony: str | None = None  # only rows where it is true count
    style: list[str] = field(default_factory=list)  # style_* feature columns
    conversations: bool = False  # style features computed from conversation_a / conversation_b
    metadata: bool = False  # style features from LMArena's conv_metadata counts

    def names(self) -> list[str]:
        extra = [self.count, self.weight, self.voter, self.group, self.time, self.anony]
        conv = list(CONVERSATION_COLUMNS) if self.conversations else [METADATA_COLUMN] if self.metadata else []
        return ["model_a", "model_b", "winner"] + [c for c in extra if c is not None] + self.style + conv

    @property
    def style_names(self) -> list[str]:
        """The style features' names: the ``style_*`` columns without the prefix."""
        if self.conversations or self.metadata:
            return list(STYLE_FEATURES)
        return [c[len(STYLE_PREFIX) :] for c in self.style]


@dataclass
class VoteStream:
    """An opened vote source: coded batches plus the vocabularies they are coded in."""

    batches: Iterator[Batch]
    columns: Columns
    total_rows: int | None
    models: Vocab = field(default_factory=Vocab)
    voters: Vocab = field(default_factory=Vocab)
    groups: Vocab = field(default_factory=Vocab)
    strict: bool = False
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    """Rows skipped so far, by reason (:data:`ranking.skipped.SKIP_REASONS`); complete
    once every batch has been read."""

    def no_votes_left(self) -> RankingError:
        """The error for a source whose every row was skipped (or that had none)."""
        line = describe_skipped(self.skipped)
        return RankingError(f"no votes left: {line}" if line else "no votes: the data is empty")


# --------------------------------------------------------------------------- columns


def resolve_columns(
    available: Sequence[str],
    *,
    voter: str | None,
    need_voter: bool,
    by: str | None,
    weight: str | None,
    need_time: bool,
    all_battles: bool = False,
    style: bool = False,
) -> Columns:
    """Check the required columns and pick the optional ones; raise a one-line error."""
    have = set(available)
    missing = [c for c in ("model_a", "model_b", "winner") if c not in have]
    if missing:
        raise RankingError(
            f"missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (have: {', '.join(map(str, available)) or 'none'})"
        )
    cols = Columns(count="count" if "count" in have else None)
    for role, name in (("voter", voter), ("group", by), ("weight", weight)):
        if name is not None and name not in have:
            raise RankingError(f"no column {name!r} for --{'by' if role == 'group' else role}")
    cols.group, cols.weight = by, weight
    if ANONY_COLUMN in have and not all_battles:
        cols.anony = ANONY_COLUMN
    if style:
        if cols.count is not None:
            raise RankingError("style control needs one row per vote, not counted rows (a 'count' column)")
        cols.style = sorted(str(c) for c in available if str(c).startswith(STYLE_PREFIX))
        cols.metadata = not cols.style and METADATA_COLUMN in have
        cols.conversations = not cols.style and not cols.metadata and all(c in have for c in CONVERSATION_COLUMNS)
        if not cols.style and not cols.metadata and not cols.conversations:
            raise RankingError(
                "style control needs style_* feature columns, LMArena's conv_metadata, or conversation_a "
                "and conversation_b (OpenAI message lists)"
            )
    if need_voter:
        cols.voter = voter or next((c for c in VOTER_COLUMNS if c in have), None)
        if cols.voter is None:
            raise RankingError(f"voter-cluster intervals need a voter column ({', '.join(VOTER_COLUMNS)})")
    if need_time:
        if cols.count is not None:
            raise RankingError("online Elo needs individual votes, not counted rows")
        cols.time = next((c for c in TIME_COLUMNS if c in have), None)
    return cols


def _codes_arrow(arr: pa.Array | pa.ChunkedArray, vocab: Vocab) -> Codes:
    """Codes of a string column; -1 for a missing value."""
    if isinstance(arr, pa.ChunkedArray):
        parts = [_codes_arrow(c, vocab) for c in arr.chunks]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)
    out: Codes
    arr = _dictionary(arr)
    if pa.types.is_dictionary(arr.type):
        lut = np.append(vocab.nullable_codes(arr.dictionary.to_pylist()), -1)
        out = lut[_numpy(arr.indices, fill=len(arr.dictionary))]
        return out
    import pandas as pd

    codes, uniques = pd.factorize(arr.to_numpy(zero_copy_only=False))
    out = np.append(vocab.nullable_codes(list(uniques)), -1)[codes]
    return out


def _numpy(arr: pa.Array | pa.ChunkedArray, fill: float | bool = 0) -> np.ndarray:
    """A boolean or numeric arrow column as numpy with its nulls set to ``fill``, read
    from its buffers (zero-copy when it has no nulls); other types through pyarrow's
    ``to_numpy``, nulls as it gives them. pyarrow's own conversions (``to_numpy``,
    ``fill_null``) import pandas to look for its types, a quarter of a second that
    ``arena rank`` on a Parquet file does not otherwise spend."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    kind = arr.type
    if pa.types.is_boolean(kind):
        dtype = np.dtype(bool)
    elif pa.types.is_integer(kind):
        dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(kind) else 'u'}{kind.bit_width // 8}")
    elif pa.types.is_floating(kind):
        dtype = np.dtype(f"f{kind.bit_width // 8}")
    else:
        out: np.ndarray = arr.to_numpy(zero_copy_only=False)
        return out
    n, offset = len(arr), arr.offset
    if n == 0:
        return np.empty(0, dtype=dtype)
    validity, data = arr.buffers()[:2]
    if pa.types.is_boolean(kind):
        values = _bits(data, offset, n)
    else:
        values = np.frombuffer(data, dtype=dtype, count=offset + n)[offset:]
    if arr.null_count:
        values = values.copy()
        values[~_bits(validity, offset, n)] = fill
    return values


def _bits(buffer: pa.Buffer, offset: int, n: int) -> npt.NDArray[np.bool_]:
    """Bits offset .. offset + n of an arrow bitmap (least significant bit first)."""
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=offset + n, bitorder="little")
    return bits[offset:].astype(bool)


def _dictionary(arr: pa.Array) -> pa.Array:
    """The column dictionary-encoded (values in order of first appearance, as
    ``pd.factorize`` gives them), or as it is where arrow cannot encode its type."""
    if pa.types.is_dictionary(arr.type):
        return arr
    try:
        return arr.dictionary_encode()
    except pa.ArrowException:
        return arr


def _codes_pandas(s: pd.Series, vocab: Vocab) -> Codes:
    """Codes of a column; -1 for a missing value."""
    import pandas as pd

    codes, uniques = pd.factorize(s)
    out: Codes = np.append(vocab.nullable_codes(list(uniques)), -1)[codes]
    return out


def _winner_codes(uniques: Sequence[object]) -> npt.NDArray[np.int8]:
    """Outcome codes of winner labels: UNKNOWN_LABEL for a label we do not know,
    NO_LABEL for a missing one."""
    out = np.empty(len(uniques), dtype=np.int8)
    for k, label in enumerate(uniques):
        code = WINNER_CODES.get(label) if isinstance(label, str) else None
        out[k] = (NO_LABEL if _is_missing(label) else UNKNOWN_LABEL) if code is None else code
    return out


def unknown_label_error(label: object, name: str = "winner") -> RankingError:
    return RankingError(
        f"unknown winner label {label!r} in column {name!r} (expected model_a, model_b, tie, both_bad or tie (bothbad))"
    )


def _anonymous_arrow(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    """:func:`_anonymous` of an arrow column, without pandas for booleans, numbers and
    strings (a missing value or NaN is not anonymous)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    kind = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    if pa.types.is_boolean(kind) and kind == arr.type:
        out: npt.NDArray[np.bool_] = _numpy(arr, fill=False)
        return out
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and kind == arr.type:
        return np.asarray(_numpy(arr, fill=0) == 1, dtype=bool)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        arr = _dictionary(arr)
        labels = [str(v).strip().lower() in TRUE_WORDS for v in arr.dictionary.to_pylist()]
        truth = np.array([*labels, False])
        out = truth[_numpy(arr.indices, fill=len(labels))]
        return out
    return _anonymous(arr.to_pandas())


def _anonymous(s: pd.Series) -> npt.NDArray[np.bool_]:
    """Rows of an ``anony`` column that are true (True, 1, "true", "yes"); a missing
    value is not anonymous."""
    import pandas as pd

    out: npt.NDArray[np.bool_]
    if pd.api.types.is_bool_dtype(s):
        out = s.to_numpy(dtype=bool)
    elif pd.api.types.is_numeric_dtype(s):
        out = s.to_numpy(dtype=np.float64, na_value=0.0) == 1
    else:
        out = s.map(
            lambda v: v is True or (isinstance(v, (int, float)) and v == 1) or str(v).strip().lower() in TRUE_WORDS
        ).to_numpy(dtype=bool)
    return out


def _numbers(values: object, name: str, *, nonneg: bool) -> npt.NDArray[np.float64]:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise RankingError(f"column {name!r} must be numeric") from None
    bad = ~np.isfinite(x)
    if bad.any():
        raise RankingError(f"column {name!r} has {int(bad.sum())} missing or infinite values")
    if nonneg and (x < 0).any():
        raise RankingError(f"column {name!r} has negative values")
    return x


def _style_values(values: object, name: str) -> npt.NDArray[np.float64]:
    """A numeric style feature; a missing value is NaN (the row is then skipped)."""
    import pandas as pd

    try:
        out: npt.NDArray[np.float64] = np.asarray(pd.to_numeric(pd.Series(values), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError):
        raise RankingError(f"style column {name!r} must be numeric") from None
    return out


def _time_values(values: object) -> npt.NDArray[np.float64]:
    """Timestamps as sortable float64 (numbers, datetimes or ISO strings)."""
    import pandas as pd

    s = pd.Series(values)
    out: npt.NDArray[np.float64]
    if pd.api.types.is_numeric_dtype(s):
        out = s.to_numpy(dtype=np.float64, na_value=np.inf)
    else:
        out = pd.to_datetime(s, errors="coerce", utc=True).astype("int64").to_numpy(dtype=np.float64)
    return out


class _Coder:
    """Turns arrow record batches or DataFrames into coded :class:`Batch` objects, with
    the rows that cannot be fitted skipped (and counted) or, when strict, refused."""

    def __init__(self, src: VoteStream) -> None:
        self.src = src

    def arrow(self, rb: pa.RecordBatch | pa.Table) -> Batch:
        c, src = self.src.columns, self.src
        w = rb.column("winner")
        if isinstance(w, pa.ChunkedArray):
            w = w.combine_chunks()
        w = _dictionary(w)
        if pa.types.is_dictionary(w.type):
            lut = np.append(_winner_codes(w.dictionary.to_pylist()), np.int8(NO_LABEL))
            winner = lut[_numpy(w.indices, fill=len(w.dictionary))]
        else:
            import pandas as pd

            codes, uniques = pd.factorize(w.to_numpy(zero_copy_only=False))
            winner = np.append(_winner_codes(list(uniques)), np.int8(NO_LABEL))[codes]

        def num(name: str, nonneg: bool) -> npt.NDArray[np.float64]:
            values = rb.column(name)
            if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
                values = values.cast(pa.float64())  # a missing value is NaN, as _numbers expects
            return _numbers(_numpy(values, fill=np.nan), name, nonneg=nonneg)

        batch = Batch(
            a=_codes_arrow(rb.column("model_a"), src.models),
            b=_codes_arrow(rb.column("model_b"), src.models),
            winner=winner,
            count=num(c.count, True) if c.count else None,
            weight=num(c.weight, True) if c.weight else None,
            voter=_codes_arrow(rb.column(c.voter), src.voters) if c.voter else None,
            group=self._groups(rb.column(c.group).to_pandas()) if c.group else None,
            time=_time_values(rb.column(c.time).to_numpy(zero_copy_only=False)) if c.time else None,
        )
        if c.style:
            batch.style = np.column_stack(
                [_style_values(rb.column(n).to_numpy(zero_copy_only=False), n) for n in c.style]
            )
        elif c.metadata:
            batch.style = features_of_metadata(rb.column(METADATA_COLUMN).to_pylist())
        elif c.conversations:
            batch.style = features_of_conversations(*(rb.column(n).to_pylist() for n in CONVERSATION_COLUMNS))
        anon = _anonymous_arrow(rb.column(c.anony)) if c.anony else None
        return self.screen(batch, anon, lambda k: rb.column("winner")[k].as_py())

    def pandas(self, df: pd.DataFrame) -> Batch:
        import pandas as pd

        c, src = self.src.columns, self.src
        codes, uniques = pd.factorize(df["winner"])
        batch = Batch(
            a=_codes_pandas(df["model_a"], src.models),
            b=_codes_pandas(df["model_b"], src.models),
            winner=np.append(_winner_codes(list(uniques)), np.int8(NO_LABEL))[codes],
            count=_numbers(df[c.count].to_numpy(), c.count, nonneg=True) if c.count else None,
            weight=_numbers(df[c.weight].to_numpy(), c.weight, nonneg=True) if c.weight else None,
            voter=_codes_pandas(df[c.voter], src.voters) if c.voter else None,
            group=self._groups(df[c.group]) if c.group else None,
            time=_time_values(df[c.time].to_numpy()) if c.time else None,
        )
        if c.style:
            batch.style = np.column_stack([_style_values(df[n].to_numpy(), n) for n in c.style])
        elif c.metadata:
            batch.style = features_of_metadata(df[METADATA_COLUMN].tolist())
        elif c.conversations:
            batch.style = features_of_conversations(*(df[n].tolist() for n in CONVERSATION_COLUMNS))
        anon = _anonymous(df[c.anony]) if c.anony else None
        return self.screen(batch, anon, lambda k: df["winner"].iloc[k])

    def screen(self, batch: Batch, anonymous: npt.NDArray[np.bool_] | None, label_at: Callable[[int], object]) -> Batch:
        """Leave out battles that were not anonymous; skip (and count) or, when strict,
        refuse rows with a missing field, an unknown winner label or one model twice."""
        src = self.src
        rows = len(batch.a)
        keep = np.ones(rows, dtype=bool) if anonymous is None else anonymous.copy()
        src.skipped["not_anonymous"] += rows - int(keep.sum())
        fields = [("model_a", batch.a < 0), ("model_b", batch.b < 0), ("winner", batch.winner == NO_LABEL)]
        if batch.voter is not None:
            fields.append((src.columns.voter or "voter", batch.voter < 0))
        if batch.style is not None:
            fields.append(("style", ~np.isfinite(batch.style).all(axis=1)))
        missing = np.zeros(rows, dtype=bool)
        for name, bad in fields:
            bad &= keep
            if src.strict and bad.any():
                raise RankingError(f"column {name!r} has {int(bad.sum())} missing values")
            missing |= bad
        src.skipped["missing_field"] += int(missing.sum())
        keep &= ~missing
        unknown = keep & (batch.winner == UNKNOWN_LABEL)
        if unknown.any():
            if src.strict:
                raise unknown_label_error(label_at(int(np.argmax(unknown))))
            src.skipped["unknown_winner"] += int(unknown.sum())
            keep &= ~unknown
        same = keep & (batch.a == batch.b)
        if same.any():
            if src.strict:
                model = src.models.values[int(batch.a[np.argmax(same)])]
                if len(src.models.values) == 1:
                    raise RankingError(f"only one model ({model}): nothing to rank")
                raise RankingError(f"{int(same.sum())} votes compare a model with itself ({model})")
            src.skipped["self_comparison"] += int(same.sum())
            keep &= ~same
        if keep.all():
            return batch
        return batch.take(keep)

    def _groups(self, s: pd.Series) -> Codes:
        """Group codes; a missing group value is its own group, labelled "(missing)"."""
        import pandas as pd

        codes, uniques = pd.factorize(s, use_na_sentinel=False)
        labels = ["(missing)" if pd.isna(u) else u for u in uniques]
        out: Codes = self.src.groups.codes(labels)[codes]
        return out


# --------------------------------------------------------------------------- sources


class _Wanted(TypedDict):
    """The keyword arguments of :func:`resolve_columns`: which optional roles to read."""

    voter: str | None
    need_voter: bool
    by: str | None
    weight: str | None
    need_time: bool
    all_battles: bool
    style: bool


def open_votes(
    data: VoteSource,
    *,
    voter: str | None = None,
    need_voter: bool = False,
    by: str | None = None,
    weight: str | None = None,
    need_time: bool = False,
    strict: bool = False,
    all_battles: bool = False,
    style: bool = False,
) -> VoteStream:
    """Open a DataFrame, an arrow Table or a file path as a stream of coded batches.

    Rows with a missing model, winner (or voter, when one is read), an unknown winner
    label or one model on both sides are skipped and counted in the stream's
    ``skipped``; ``strict=True`` raises a :class:`RankingError` at the first one instead.
    Where there is an ``anony`` column only the rows where it is true are read, unless
    ``all_battles=True``. ``style=True`` also reads style features into each batch's
    ``style`` (``style_*`` columns, or computed from ``conversation_a`` / ``conversation_b``).
    """
    opts = _Wanted(
        voter=voter,
        need_voter=need_voter,
        by=by,
        weight=weight,
        need_time=need_time,
        all_battles=all_battles,
        style=style,
    )
    src: VoteStream
    pandas = sys.modules.get("pandas")  # a caller with a DataFrame has imported pandas
    if pandas is not None and isinstance(data, pandas.DataFrame):
        src = _from_frame(data, opts)
    elif isinstance(data, pa.Table):
        src = _from_arrow(data, opts)
    elif isinstance(data, (str, os.PathLike)):
        src = _from_path(Path(data), opts)
    else:
        raise RankingError(f"cannot rank a {type(data).__name__}: pass a DataFrame or a file path")
    src.strict = strict  # the batches are read lazily, after this
    return src


def _from_frame(df: pd.DataFrame, opts: _Wanted) -> VoteStream:
    cols = resolve_columns([str(c) for c in df.columns], **opts)
    if len(df) == 0:
        raise RankingError("no votes: the data is empty")
    src = VoteStream(iter(()), cols, len(df))
    coder = _Coder(src)
    src.batches = (coder.pandas(df.iloc[k : k + BATCH_ROWS]) for k in range(0, len(df), BATCH_ROWS))
    return src


def _from_arrow(table: pa.Table, opts: _Wanted) -> VoteStream:
    cols = resolve_columns(table.column_names, **opts)
    if table.num_rows == 0:
        raise RankingError("no votes: the data is empty")
    src = VoteStream(iter(()), cols, table.num_rows)
    coder = _Coder(src)
    src.batches = (coder.arrow(rb) for rb in table.select(cols.names()).to_batches(BATCH_ROWS))
    return src


def _sniff(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    first = head.lstrip()[:1]
    if first == b"[":
        return "json"
    if first == b"{":
        return "jsonl"
    return "csv"


def _from_path(path: Path, opts: _Wanted) -> VoteStream:
    if not path.exists():
        raise RankingError(f"no such file: {path}")
    if path.is_dir():
        raise RankingError(f"{path} is a directory, not a vote file")
    if path.stat().st_size == 0:
        raise RankingError(f"empty file: {path}")
    kind = _sniff(path)
    try:
        if kind == "parquet":
            return _from_parquet(path, opts)
        if kind == "csv":
            return _from_csv(path, opts)
        if kind == "jsonl":
            return _from_jsonl(path, opts)
        return _from_json_list(path, opts)
    except RankingError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RankingError(f"cannot read {path.name} as {kind}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _guard(batches: Iterator[Batch], path: Path, kind: str) -> Iterator[Batch]:
    """Re-raise read errors that happen mid-stream as one-line RankingErrors."""
    try:
        yield from batches
    except RankingError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RankingError(f"cannot read {path.name} as {kind}: {_first_line(exc)}") from None


def _from_parquet(path: Path, opts: _Wanted) -> VoteStream:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    cols = resolve_columns(schema.names, **opts)
    strings = [
        n
        for n in cols.names()
        if pa.types.is_string(schema.field(n).type) or pa.types.is_large_string(schema.field(n).type)
    ]
    # Row group by row group: ``iter_batches`` pre-buffers column chunks ahead and its
    # peak memory grows with the file (360 MB at 100M votes against 155 MB this way).
    pf = pq.ParquetFile(path, read_dictionary=strings, pre_buffer=False)
    rows = pf.metadata.num_rows
    if rows == 0:
        raise RankingError(f"no votes in {path.name}")
    src = VoteStream(iter(()), cols, rows)
    coder = _Coder(src)

    def raw() -> Iterator[pa.Table | pa.RecordBatch]:
        for k in range(pf.num_row_groups):
            if pf.metadata.row_group(k).num_rows <= 4 * BATCH_ROWS:
                yield pf.read_row_group(k, columns=cols.names())
            else:
                yield from pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[k], columns=cols.names())

    src.batches = _guard((coder.arrow(rb) for rb in raw()), path, "parquet")
    return src


def _from_csv(path: Path, opts: _Wanted) -> VoteStream:
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    header = pcsv.open_csv(path, parse_options=parse)
    cols = resolve_columns(header.schema.names, **opts)
    header.close()
    dict_type = pa.dictionary(pa.int32(), pa.string())
    types = {n: dict_type for n in ("model_a", "model_b", "winner")}
    if cols.voter:
        types[cols.voter] = dict_type
    if cols.anony:
        types[cols.anony] = pa.string()  # True/true/1 alike, whatever the first block holds
    convert = pcsv.ConvertOptions(include_columns=cols.names(), column_types=types, strings_can_be_null=True)
    reader = pcsv.open_csv(
        path, parse_options=parse, convert_options=convert, read_options=pcsv.ReadOptions(block_size=1 << 24)
    )
    src = VoteStream(iter(()), cols, None)
    coder = _Coder(src)
    src.batches = _guard((coder.arrow(rb) for rb in reader if rb.num_rows), path, "csv")
    return src


def _from_jsonl(path: Path, opts: _Wanted) -> VoteStream:
    import pandas as pd

    chunks = pd.read_json(path, lines=True, chunksize=BATCH_ROWS // 4, dtype=False)
    first = next(iter(chunks), None)
    if first is None or len(first) == 0:
        raise RankingError(f"no votes in {path.name}")
    cols = resolve_columns([str(c) for c in first.columns], **opts)
    src = VoteStream(iter(()), cols, None)
    coder = _Coder(src)

    def gen() -> Iterator[Batch]:
        yield coder.pandas(first)
        for chunk in chunks:
            missing = [c for c in cols.names() if c not in chunk.columns]
            if missing:
                raise RankingError(f"some lines of {path.name} lack {', '.join(missing)}")
            yield coder.pandas(chunk)

    src.batches = _guard(gen(), path, "jsonl")
    return src


def _from_json_list(path: Path, opts: _Wanted) -> VoteStream:
    """FastChat's ``clean_battle_*.json``: one JSON array of battle objects."""
    import pandas as pd

    with path.open("rb") as fh:
        records = json.load(fh)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records[:100]):
        raise RankingError(f"{path.name} is not a JSON list of vote objects")
    if not records:
        raise RankingError(f"no votes in {path.name}")
    return _from_frame(pd.DataFrame.from_records(records), opts)


# --------------------------------------------------------------------------- database


def aggregation_query(
    table: str = "votes", *, voter: str | None = None, by: str | None = None, where: str | None = None
) -> str:
    """SQL that aggregates votes in the database to what :func:`ranking.rank` needs.

    ``GROUP BY model_a, model_b, winner[, voter][, by]`` with ``COUNT(*) AS count``:
    the leaderboard then never loads raw votes, only cells.
    """
    keys = ["model_a", "model_b", "winner"] + [c for c in (voter, by) if c]
    cols = ", ".join(keys)
    sql = f"SELECT {cols}, COUNT(*) AS count FROM {table}"
    if where:
        sql += f" WHERE {where}"
    return sql + f" GROUP BY {cols}"


def read_database(
    con: object, table: str = "votes", *, voter: str | None = None, by: str | None = None, where: str | None = None
) -> pd.DataFrame:
    """Run :func:`aggregation_query` on a DB-API or SQLAlchemy connection (or engine)."""
    import pandas as pd

    out: pd.DataFrame = pd.read_sql(aggregation_query(table, voter=voter, by=by, where=where), con)
    return out
