"""Vote dumps for researchers: Parquet, CSV or JSONL in LMArena's column names, with a manifest.

A dump is streamed: votes come from the database a chunk at a time (arena/store/dumps.py)
and each chunk becomes one Parquet row group, one CSV block or a run of JSON lines, so
memory stays flat however many votes there are. The file is written under a temporary
name and renamed when complete; its manifest (row count, sha256, filters, the exact
`arena rank` command and the board it gives) is written the same way beside it, so a
reader never sees half a dump nor a dump without its manifest.

Privacy: `judge` is an HMAC of the voter id under a salt derived from the arena secret
(`settings.subkey("dumps")`) and the release, so it is stable within one dump and
unlinkable across dumps. No raw voter id, IP hash or dwell time leaves. The coarse
demographics (each vote's snapshot of the voter's profile) are k-anonymised over the
dump's own votes before the first row is written (`k_anonymise`): every published
combination of them, and so every single value, has at least k distinct voters behind it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from arena.errors import InvalidInput
from arena.services.leaderboards import rank_options
from arena.settings import Settings
from arena.store.dumps import (
    DEMOGRAPHICS,
    DumpFilter,
    count_rows,
    demographic_voters,
    dump_rows,
    has_outputs,
    turn_outputs,
)
from arena.store.engine import Store
from arena.vocabulary import DIMENSIONS, Dimension, Modality, Winner, one_of

SCHEMA_VERSION = 1
FORMATS = ("parquet", "csv", "jsonl")
WINNER_LABELS = ("arena", "lmarena")  # ours (both_bad) or LMArena's clean_battle (tie (bothbad))
LMARENA_WINNERS = {Winner.BOTH_BAD.value: "tie (bothbad)"}
DUMPS_DIR = "dumps"
MANIFEST_SUFFIX = ".manifest.json"
ROLLING_PREFIX = "rolling"
ROLLING_KEEP = 3  # scheduled releases kept; dumps written by `arena export` are never removed
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

# name -> (arrow type, description); the order is the files' column order.
COLUMNS: dict[str, tuple[str, str]] = {
    "question_id": ("string", "battle id (one battle has one vote per dimension)"),
    "model_a": ("string", "model shown on the left"),
    "model_b": ("string", "model shown on the right"),
    "winner": ("string", "model_a | model_b | tie | both_bad (or tie (bothbad): see winner_labels)"),
    "judge": ("string", "voter pseudonym: HMAC of the voter id, salted per release"),
    "turn": ("int32", "user turns in the battle"),
    "anony": ("bool", "anonymous battle (names hidden until the vote); only these count on boards"),
    "language": ("string", "detected language of a text prompt, or null"),
    "tstamp": ("float64", "vote time, unix seconds (UTC)"),
    "conversation_a": ("string", "text: OpenAI message list (JSON) with model_a's replies"),
    "conversation_b": ("string", "text: OpenAI message list (JSON) with model_b's replies"),
    "prompt": ("string", "first user prompt"),
    "sha256_a": ("string", "image / 3D: SHA-256 of model_a's last output"),
    "sha256_b": ("string", "image / 3D: SHA-256 of model_b's last output"),
    "url_a": ("string", "image / 3D: where model_a's output is served"),
    "url_b": ("string", "image / 3D: where model_b's output is served"),
    "modality": ("string", "text | image | 3d"),
    "dimension": ("string", "what the vote judges: overall, aesthetics, geometry, ..."),
    "category": ("string", "prompt category (rule-based) or null"),
    "is_valid": ("bool", "the vote counts (not fast, leaked, quarantined, banned or withdrawn)"),
    "invalid_reason": ("string", "why a vote does not count, or null"),
    "source": ("string", "live | simulate | import | bulk"),
    "board": ("string", "modality/dimension for votes the boards count (valid, anonymous), else null"),
    "age_band": ("string", "voter's age band when the vote was cast; null: not given or suppressed (k-anonymity)"),
    "gender": ("string", "voter's gender when the vote was cast; null: not given or suppressed (k-anonymity)"),
    "country": ("string", "voter's country (ISO 3166) when the vote was cast; null: not given or suppressed"),
    "first_language": ("string", "voter's first language when the vote was cast; null: not given or suppressed"),
    "expertise": ("string", "voter's expertise when the vote was cast; null: not given or suppressed"),
}
# k-anonymity gives up the finest field first when a combination has too few voters
_GENERALISE = ("country", "first_language", "expertise", "gender", "age_band")


@dataclass(frozen=True)
class ExportOptions:
    """What to dump and how; build with `export_options` (checks every value)."""

    format: str = "parquet"
    where: DumpFilter = field(default_factory=DumpFilter)
    older_than_days: float | None = None
    winner_labels: str = "arena"


@dataclass
class DumpInfo:
    """A published dump, as listed by the API and the page."""

    name: str
    format: str
    rows: int
    size: int
    sha256: str
    created_at: str
    first_vote: str | None
    last_vote: str | None
    manifest: dict[str, Any]


def export_options(
    format: str | None = None,
    modality: str | None = None,
    dimension: str | None = None,
    since: str | None = None,
    until: str | None = None,
    valid_only: bool = False,
    older_than_days: str | float | None = None,
    winner_labels: str | None = None,
) -> ExportOptions:
    """Check an export request (as typed on the command line). Raises InvalidInput naming the allowed values."""
    fmt = format or "parquet"
    if fmt not in FORMATS:
        raise InvalidInput(f"--format must be one of: {', '.join(FORMATS)}")
    kind = None
    if modality is not None:
        try:
            kind = Modality(modality)
        except ValueError:
            raise InvalidInput(f"--modality must be one of: {one_of(Modality)}") from None
    dim = None
    if dimension is not None:
        allowed = DIMENSIONS[kind] if kind is not None else tuple(Dimension)
        if dimension not in allowed:
            where = f" for {kind}" if kind is not None else ""
            raise InvalidInput(f"--dimension{where} must be one of: {', '.join(allowed)}")
        dim = Dimension(dimension)
    start, end = _moment("--since", since), _moment("--until", until)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("--until must be later than --since")
    days = None
    if older_than_days is not None:
        try:
            days = float(older_than_days)
        except ValueError:
            raise InvalidInput(f"--older-than must be a number of days, not {older_than_days!r}") from None
        if not 0 <= days < 100_000:
            raise InvalidInput("--older-than must be between 0 and 100000 days")
    labels = winner_labels or "arena"
    if labels not in WINNER_LABELS:
        raise InvalidInput(f"--winner-labels must be one of: {', '.join(WINNER_LABELS)}")
    return ExportOptions(fmt, DumpFilter(kind, dim, start, end, valid_only), days, labels)


def _moment(flag: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{flag} must be a date or time (ISO 8601: 2026-01-31 or 2026-01-31T12:00), not {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dumps_dir(settings: Settings) -> Path:
    return settings.data_dir / DUMPS_DIR


def default_path(settings: Settings, options: ExportOptions, prefix: str = "votes") -> Path:
    """A fresh name in the published dumps folder: prefix, UTC time and a random tail."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return dumps_dir(settings) / f"{prefix}-{stamp}-{secrets.token_hex(2)}.{options.format}"


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.stem + MANIFEST_SUFFIX)


def export(
    store: Store,
    settings: Settings,
    options: ExportOptions,
    out: Path,
    *,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
    chunk: int = 20_000,
) -> dict[str, Any]:
    """Write the dump to `out` and its manifest beside it; returns the manifest. Blocking.

    `total` hears the number of rows before the first is read, `progress` each chunk's
    size. Raises InvalidInput when no vote matches, OSError when `out` cannot be written.
    """
    created = datetime.now(UTC)
    where = _effective_filter(options, created)
    expected = count_rows(store, where)
    if expected == 0:
        raise InvalidInput("no votes match these filters")
    if total is not None:
        total(expected)
    release = f"{out.stem}/{created.isoformat()}"
    salt = hmac.new(settings.subkey("dumps"), release.encode(), hashlib.sha256).digest()
    out.parent.mkdir(parents=True, exist_ok=True)
    published = k_anonymise(demographic_voters(store, where), settings.k_anonymity)
    shaper = _Shaper(salt, options.winner_labels, (settings.public_url or "").rstrip("/"), settings, published)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=out.suffix)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            rows = _write(handle, options.format, _tables(store, where, shaper, chunk, progress))
        digest, size = _sha256(tmp), tmp.stat().st_size
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    manifest = _manifest(out, options, where, created, rows, digest, size, shaper, settings)
    _write_json(manifest_path(out), manifest)
    return manifest


def _effective_filter(options: ExportOptions, now: datetime) -> DumpFilter:
    where = options.where
    if options.older_than_days is None:
        return where
    cutoff = now - timedelta(days=options.older_than_days)
    until = cutoff if where.until is None else min(where.until, cutoff)
    return DumpFilter(where.modality, where.dimension, where.since, until, where.valid_only)


# Caches of the export, bounded so memory stays flat whatever the votes: pseudonyms (~150
# bytes each) and short conversation texts (at most _CACHED_CHARS characters each).
_CACHED_JUDGES = 200_000
_CACHED_TEXTS = 10_000
_CACHED_CHARS = 1_000


class _Shaper:
    """Turns database rows into dump columns and keeps what the manifest needs (counts, time range)."""

    def __init__(
        self,
        salt: bytes,
        labels: str,
        base_url: str,
        settings: Settings,
        demographics: dict[tuple[str | None, ...], tuple[str | None, ...]] | None = None,
    ):
        self.salt = salt
        self.demographics = demographics or {}  # snapshot as stored -> as published (k-anonymised)
        self.k = settings.k_anonymity
        self.relabel = LMARENA_WINNERS if labels == "lmarena" else {}
        self.base_url = base_url
        self.per_voter = settings.leaderboard_ci == "cluster"
        self.judges: dict[str, str] = {}
        self.counts: Counter[tuple[str, ...]] = Counter()  # (board, model_a, model_b, winner[, judge])
        self.first: float | None = None
        self.last: float | None = None
        self.rows_not_counted = 0
        self._parsed: dict[str, list[str]] = {}
        self._user_only: dict[str, str] = {}

    def judge(self, voter_id: str) -> str:
        found = self.judges.get(voter_id)
        if found is None:
            if len(self.judges) >= _CACHED_JUDGES:  # bounded memory with very many voters
                self.judges.clear()
            found = hmac.new(self.salt, voter_id.encode(), hashlib.sha256).hexdigest()[:32]
            self.judges[voter_id] = found
        return found

    def shape(self, rows: Sequence[Sequence[Any]], outputs: dict[str, dict[tuple[int, str], Any]]) -> Any:
        """One chunk of rows as a pyarrow Table in COLUMNS order; counts what the manifest needs.

        Column-wise on purpose: per-row Python work is only the pseudonym lookup and, for
        text, the conversation; everything else is converted by pyarrow in C.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        (
            battle_id,
            model_a,
            model_b,
            winner,
            voter_id,
            anonymous,
            created_at,
            modality,
            dimension,
            category,
            valid,
            invalid_reason,
            source,
            conversation,
            language,
            *profile,
        ) = (list(column) for column in zip(*rows, strict=True))
        hidden = (None,) * len(DEMOGRAPHICS)
        shown = [self.demographics.get(values, hidden) for values in zip(*profile, strict=True)]
        published = list(zip(*shown, strict=True)) if shown else [()] * len(DEMOGRAPHICS)
        turns = [self._turns(c) for c in conversation]
        cached = self.judges.get
        judges = [cached(voter) or self.judge(voter) for voter in voter_id]
        boards = [
            f"{kind}/{dim}" if ok and anon else None
            for kind, dim, ok, anon in zip(modality, dimension, valid, anonymous, strict=True)
        ]
        n = len(rows)
        conversation_a: list[str | None] = [None] * n
        conversation_b: list[str | None] = [None] * n
        sha_a: list[str | None] = [None] * n
        sha_b: list[str | None] = [None] * n
        for index in range(n):
            battle = outputs.get(battle_id[index], _NONE)
            if modality[index] == Modality.TEXT:
                if battle:
                    conversation_a[index] = _conversation(turns[index], battle, "a")
                    conversation_b[index] = _conversation(turns[index], battle, "b")
                else:  # no replies stored (bulk votes): both sides hold the user turns only
                    conversation_a[index] = conversation_b[index] = self._prompts(conversation[index], turns[index])
            elif battle:
                sha_a[index], sha_b[index] = _last_artifact(battle, "a"), _last_artifact(battle, "b")
        stamps = pa.array(created_at)
        if pa.types.is_string(stamps.type):  # SQLite: UTC text
            stamps = stamps.cast(pa.timestamp("us"))
        seconds = pc.divide(stamps.cast(pa.timestamp("us")).cast(pa.int64()).cast(pa.float64()), 1e6)
        columns = {
            "question_id": pa.array(battle_id, pa.string()),
            "model_a": pa.array(model_a, pa.string()),
            "model_b": pa.array(model_b, pa.string()),
            "winner": pa.array(winner, pa.string()),
            "judge": pa.array(judges, pa.string()),
            "turn": pa.array([len(t) or 1 for t in turns], pa.int32()),
            "anony": pa.array(anonymous).cast(pa.bool_()),
            "language": pa.array(language, pa.string()),
            "tstamp": seconds,
            "conversation_a": pa.array(conversation_a, pa.string()),
            "conversation_b": pa.array(conversation_b, pa.string()),
            "prompt": pa.array([t[0] if t else None for t in turns], pa.string()),
            "sha256_a": pa.array(sha_a, pa.string()),
            "sha256_b": pa.array(sha_b, pa.string()),
            "url_a": pa.array([self._url(sha) for sha in sha_a], pa.string()),
            "url_b": pa.array([self._url(sha) for sha in sha_b], pa.string()),
            "modality": pa.array(modality, pa.string()),
            "dimension": pa.array(dimension, pa.string()),
            "category": pa.array(category, pa.string()),
            "is_valid": pa.array(valid).cast(pa.bool_()),
            "invalid_reason": pa.array(invalid_reason, pa.string()),
            "source": pa.array(source, pa.string()),
            "board": pa.array(boards, pa.string()),
            **{name: pa.array(list(values), pa.string()) for name, values in zip(DEMOGRAPHICS, published, strict=True)},
        }
        table = pa.table(columns, schema=_arrow_schema())
        self._count(table, pc)
        if self.relabel:
            relabelled = [self.relabel.get(label, label) for label in winner]
            table = table.set_column(3, "winner", pa.array(relabelled, pa.string()))
        return table

    def _turns(self, raw: Any) -> list[str]:
        """A battle's user turns from the column (JSON text on SQLite, a list on PostgreSQL);
        a short text is parsed once (prompts from the shipped sets repeat)."""
        if not isinstance(raw, str):
            return list(raw or [])
        found = self._parsed.get(raw)
        if found is None:
            found = json.loads(raw)
            if len(raw) <= _CACHED_CHARS:
                if len(self._parsed) >= _CACHED_TEXTS:
                    self._parsed.clear()
                self._parsed[raw] = found
        return found

    def _prompts(self, raw: Any, turns: list[str]) -> str:
        """The user-only message list of a battle without stored replies (cached like `_turns`)."""
        key = raw if isinstance(raw, str) and len(raw) <= _CACHED_CHARS else None
        found = self._user_only.get(key) if key is not None else None
        if found is None:
            found = _conversation(turns, _NONE, "a")
            if key is not None:
                if len(self._user_only) >= _CACHED_TEXTS:
                    self._user_only.clear()
                self._user_only[key] = found
        return found

    def _url(self, sha: str | None) -> str | None:
        return f"{self.base_url}/api/v1/artifacts/{sha}" if sha else None

    def _count(self, table: Any, pc: Any) -> None:
        """Counted votes per (board, model_a, model_b, winner[, judge]) and the time range, column-wise."""
        if table.num_rows == 0:
            return
        low, high = pc.min_max(table["tstamp"]).values()
        self.first = low.as_py() if self.first is None else min(self.first, low.as_py())
        self.last = high.as_py() if self.last is None else max(self.last, high.as_py())
        counted = table.filter(pc.is_valid(table["board"]))
        self.rows_not_counted += table.num_rows - counted.num_rows
        keys = ["board", "model_a", "model_b", "winner", *(["judge"] if self.per_voter else [])]
        grouped = counted.group_by(keys).aggregate([("question_id", "count")])
        for row in grouped.to_pylist():
            self.counts[tuple(row[key] for key in keys)] += row["question_id_count"]


_NONE: dict[tuple[int, str], Any] = {}
_quote: Callable[[str], str] = json.encoder.encode_basestring  # == json.dumps(s, ensure_ascii=False)


def _conversation(turns: list[str], outputs: dict[tuple[int, str], Any], side: str) -> str:
    """An OpenAI message list as JSON text, built as text (json.dumps of each string only)."""
    parts = []
    for index, prompt in enumerate(turns):
        parts.append('{"role": "user", "content": ' + _quote(prompt) + "}")
        reply = outputs.get((index, side))
        if reply is not None and reply.text is not None:
            parts.append('{"role": "assistant", "content": ' + _quote(reply.text) + "}")
    return "[" + ", ".join(parts) + "]"


def _last_artifact(outputs: dict[tuple[int, str], Any], side: str) -> str | None:
    found = [out.artifact_sha256 for (_, s), out in sorted(outputs.items()) if s == side and out.artifact_sha256]
    return found[-1] if found else None


def _tables(
    store: Store, where: DumpFilter, shaper: _Shaper, chunk: int, progress: Callable[[int], None] | None
) -> Iterable[Any]:
    lookup = has_outputs(store)
    for rows in dump_rows(store, where, chunk):
        outputs = turn_outputs(store, [row[0] for row in rows]) if lookup else {}
        yield shaper.shape(rows, outputs)
        if progress is not None:
            progress(len(rows))


def _arrow_schema():
    import pyarrow as pa

    types = {"string": pa.string(), "int32": pa.int32(), "bool": pa.bool_(), "float64": pa.float64()}
    return pa.schema([pa.field(name, types[kind]) for name, (kind, _) in COLUMNS.items()])


def _write(handle: BinaryIO, fmt: str, tables: Iterable[Any]) -> int:
    """Stream the chunks (pyarrow Tables) into `handle` in `fmt`; returns the number of rows written."""
    rows = 0
    if fmt == "jsonl":
        for table in tables:
            lines = [json.dumps(record, ensure_ascii=False) for record in table.to_pylist()]
            if lines:
                handle.write(("\n".join(lines) + "\n").encode())
            rows += len(lines)
        return rows
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    writer: Any = (
        pq.ParquetWriter(handle, schema, compression="zstd") if fmt == "parquet" else pcsv.CSVWriter(handle, schema)
    )
    try:
        for table in tables:
            if table.num_rows:
                writer.write_table(table)
            rows += table.num_rows
    finally:
        writer.close()
    return rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write-then-rename: a reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, allow_nan=False, default=_plain)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _iso(tstamp: float | None) -> str | None:
    return None if tstamp is None else datetime.fromtimestamp(tstamp, UTC).isoformat()


def rank_command(file: str, settings: Settings, *, by_board: bool) -> str:
    """The `arena rank` command that refits the boards of a dump as the arena fits them."""
    options = rank_options(settings)
    parts = ["arena", "rank", file, "--ci", options.ci]
    if options.ci == "cluster":
        parts += ["--voter", "judge"]
    parts += ["--provisional-votes", str(options.provisional_votes)]
    if by_board:
        parts += ["--by", "board", "--min-votes", "1"]
    return " ".join([*parts, "--format", "json"])


def _boards(shaper: _Shaper, settings: Settings) -> dict[str, Any]:
    """board -> {votes, rows or error}: the arena's fit (same options as its Leaderboards) on the dump's counted votes."""
    import pandas as pd

    from ranking import RankingError, rank

    per_board: dict[str, list[tuple[Any, ...]]] = {}
    for key, count in shaper.counts.items():
        per_board.setdefault(key[0], []).append((*key[1:], count))
    names = ["model_a", "model_b", "winner", *(["judge"] if shaper.per_voter else []), "count"]
    boards: dict[str, Any] = {}
    for board in sorted(per_board):
        frame = pd.DataFrame(per_board[board], columns=names)
        votes = int(frame["count"].sum())
        try:
            boards[board] = {"votes": votes, "rows": rank(frame, rank_options(settings)).records()}
        except RankingError as exc:
            boards[board] = {"votes": votes, "rows": [], "error": str(exc)}
    return boards


def _manifest(
    out: Path,
    options: ExportOptions,
    where: DumpFilter,
    created: datetime,
    rows: int,
    digest: str,
    size: int,
    shaper: _Shaper,
    settings: Settings,
) -> dict[str, Any]:
    boards = _boards(shaper, settings)
    by_board = len(boards) != 1 or shaper.rows_not_counted > 0
    notes = [
        "Only anonymous, valid votes count on the boards: the board column names their board "
        "(modality/dimension) and is null for the others.",
        f"Demographics (age_band, gender, country, first_language, expertise) are each vote's snapshot of "
        f"the voter's profile, k-anonymised (k-anonymity, k = {settings.k_anonymity}) over this dump's votes: every "
        "combination of them shown on a row (and so every single value) has at least k distinct voters "
        "behind it; where a row's combination had fewer, its finest fields (country first, then first "
        "language, expertise, gender, age band) are null. Null means not given or suppressed.",
        "judge is an HMAC of the voter id salted per release: stable within this dump, unlinkable across dumps.",
        "language is the detected language of a text prompt; null where none was detected.",
    ]
    if by_board:
        notes.append('With --by board, the "(missing)" group holds the votes no board counts; ignore it.')
    if settings.quarantine_weight > 0:
        notes.append(
            "This arena keeps quarantined votes in its boards at weight "
            f"{settings.quarantine_weight:g}; the dump's boards count only valid votes."
        )
    labels = list(Winner) if options.winner_labels == "arena" else [LMARENA_WINNERS.get(w, w) for w in Winner]
    return {
        "name": out.name,
        "format": options.format,
        "schema_version": SCHEMA_VERSION,
        "rows": rows,
        "sha256": digest,
        "size": size,
        "created_at": created.isoformat(),
        "first_vote": _iso(shaper.first),
        "last_vote": _iso(shaper.last),
        "filters": {
            "modality": where.modality.value if where.modality else None,
            "dimension": where.dimension.value if where.dimension else None,
            "since": where.since.isoformat() if where.since else None,
            "until": where.until.isoformat() if where.until else None,
            "valid_only": where.valid_only,
            "older_than_days": options.older_than_days,
        },
        "winner_labels": options.winner_labels,
        "winner_values": [str(label) for label in labels],
        "k_anonymity": settings.k_anonymity,
        "columns": {name: {"type": kind, "description": text} for name, (kind, text) in COLUMNS.items()},
        "command": rank_command(out.name, settings, by_board=by_board),
        "boards": boards,
        "notes": notes,
    }


def k_anonymise(
    pairs: Iterable[tuple[tuple[str | None, ...], str]], k: int
) -> dict[tuple[str | None, ...], tuple[str | None, ...]]:
    """Each demographic snapshot -> the snapshot to publish, from (snapshot, voter id) pairs.

    Local recoding: while a published combination (nulls included) has fewer than `k`
    distinct voters, its finest non-null field is nulled; merging only adds voters, so it
    ends with every published combination shared by at least k voters, or all null. Any
    sub-combination (a single value, a pair such as (age_band, country)) is then shared by
    at least as many. Snapshots not in `pairs` (no demographic at all) publish all null.
    """
    voters: dict[tuple[str | None, ...], set[str]] = {}
    for values, voter in pairs:
        voters.setdefault(tuple(values), set()).add(voter)
    published = {values: values for values in voters}
    order = [DEMOGRAPHICS.index(name) for name in _GENERALISE]
    while True:
        behind: dict[tuple[str | None, ...], set[str]] = {}
        for values, shown in published.items():
            behind.setdefault(shown, set()).update(voters[values])
        small = {shown for shown, who in behind.items() if len(who) < k and any(v is not None for v in shown)}
        if not small:
            return published
        for values, shown in published.items():
            if shown in small:
                finest = next(index for index in order if shown[index] is not None)
                published[values] = tuple(None if index == finest else v for index, v in enumerate(shown))


def write_release(store: Store, settings: Settings, older_than_days: float, fmt: str = "parquet") -> Path | None:
    """A scheduled rolling release of votes older than `older_than_days`; keeps the newest few.

    Returns the dump's path, or None when no vote is old enough. Blocking.
    """
    options = export_options(format=fmt, older_than_days=older_than_days)
    out = default_path(settings, options, ROLLING_PREFIX)
    try:
        export(store, settings, options, out)
    except InvalidInput:
        return None
    releases = [info for info in list_dumps(settings) if info.name.startswith(f"{ROLLING_PREFIX}-")]
    for old in releases[ROLLING_KEEP:]:  # newest first
        path = dumps_dir(settings) / old.name
        manifest_path(path).unlink(missing_ok=True)  # first: a dump without its manifest is not listed
        path.unlink(missing_ok=True)
    return out


def list_dumps(settings: Settings) -> list[DumpInfo]:
    """Published dumps (those with a manifest), newest first; blocking."""
    folder = dumps_dir(settings)
    if not folder.is_dir():
        return []
    found: list[DumpInfo] = []
    for path in folder.glob(f"*{MANIFEST_SUFFIX}"):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = manifest.get("name") if isinstance(manifest, dict) else None
        if not isinstance(name, str) or not SAFE_NAME.match(name) or not (folder / name).is_file():
            continue
        try:
            info = DumpInfo(
                name=name,
                format=str(manifest["format"]),
                rows=int(manifest["rows"]),
                size=int(manifest["size"]),
                sha256=str(manifest["sha256"]),
                created_at=datetime.fromisoformat(manifest["created_at"]).isoformat(),
                first_vote=manifest.get("first_vote"),
                last_vote=manifest.get("last_vote"),
                manifest=manifest,
            )
        except (KeyError, TypeError, ValueError):  # not one of ours: not published
            continue
        found.append(info)
    return sorted(found, key=lambda info: info.created_at, reverse=True)


def find_dump(settings: Settings, name: str) -> Path | None:
    """The published file (a dump or its manifest) called `name`, or None; never a path outside the folder."""
    if not SAFE_NAME.match(name) or ".." in name:
        return None
    folder = dumps_dir(settings).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        return None
    if name.endswith(MANIFEST_SUFFIX):
        return path
    return path if manifest_path(path).is_file() else None
