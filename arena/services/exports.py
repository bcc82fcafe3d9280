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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from arena.errors import InvalidInput
from arena.services.dump_tables import (
    COLUMNS,
    LMARENA_WINNERS,
    Demographics,
    Shaper,
    arrow_schema,
    shaped_tables,
)
from arena.settings import Settings
from arena.store.dumps import DEMOGRAPHICS, DumpFilter, count_rows, demographic_voters
from arena.store.engine import Store
from arena.vocabulary import DIMENSIONS, Dimension, Modality, Winner, one_of

SCHEMA_VERSION = 1
FORMATS = ("parquet", "csv", "jsonl")
WINNER_LABELS = ("arena", "lmarena")  # ours (both_bad) or LMArena's clean_battle (tie (bothbad))
DUMPS_DIR = "dumps"
MANIFEST_SUFFIX = ".manifest.json"
ROLLING_PREFIX = "rolling"
ROLLING_KEEP = 3  # scheduled releases kept; dumps written by `arena export` are never removed
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

# Parquet: no dictionary for columns unique per vote; min/max statistics only where readers
# filter (they cost a third of the writing on the long text columns, and help no reader there)
_UNIQUE = ("question_id", "tstamp")
_FILTERED = ("tstamp", "model_a", "model_b", "winner", "modality", "dimension", "board", "is_valid", "language")

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
    base_url = (settings.public_url or "").rstrip("/")
    per_voter = settings.leaderboard_ci == "cluster"
    shaper = Shaper(salt, options.winner_labels, base_url, per_voter)

    def demographics() -> Demographics:
        return k_anonymise(demographic_voters(store, where), settings.k_anonymity)

    def meanwhile() -> None:
        # the manifest's fit (pandas, ranking) loads while the votes are shaped and written,
        # not before the workers start nor after the last vote
        from arena.services import leaderboards  # noqa: F401

    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=out.suffix)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            tables = shaped_tables(store, where, shaper, demographics, chunk, progress, expected, meanwhile)
            rows = _write(handle, options.format, tables)
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

    schema = arrow_schema()
    writer: Any = (
        pq.ParquetWriter(
            handle,
            schema,
            compression="zstd",
            use_dictionary=[name for name in schema.names if name not in _UNIQUE],
            write_statistics=list(_FILTERED),
        )
        if fmt == "parquet"
        else pcsv.CSVWriter(handle, schema)
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
    from arena.services.leaderboards import rank_options

    options = rank_options(settings)
    parts = ["arena", "rank", file, "--ci", options.ci]
    if options.ci == "cluster":
        parts += ["--voter", "judge"]
    parts += ["--provisional-votes", str(options.provisional_votes)]
    if by_board:
        parts += ["--by", "board", "--min-votes", "1"]
    return " ".join([*parts, "--format", "json"])


def _boards(shaper: Shaper, settings: Settings) -> dict[str, Any]:
    """board -> {votes, rows or error}: the arena's fit (same options as its Leaderboards) on the dump's counted votes."""
    import pandas as pd

    from arena.services.leaderboards import rank_options
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
    shaper: Shaper,
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
