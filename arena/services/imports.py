"""`arena import`: public battle files (LMArena / FastChat, our own dumps) as historical votes.

The file is read a chunk at a time (Parquet record batches, CSV / JSONL chunks, and
FastChat's clean_battle JSON array a block and a few thousand objects at a time), so memory
does not grow with the file's size. Each chunk goes through `ranking.io.open_votes`, the
reader `arena rank` uses, so exactly the rows `arena rank` fits are imported: a
self-comparison, an unknown winner label or a missing model or winner is skipped and
counted (or, with `strict`, refused), and where there is an `anony` column only anonymous
battles are read unless `all_battles`. Rows of our own dumps that did not count
(`is_valid` false) are skipped too.

What is written, one transaction per chunk:
- models met for the first time: status `retired`, origin `import` (on the boards with
  their history, never drawn for a new battle; the models file never touches them);
- voters `import-<judge>` (`import-unknown` where the file has no judge);
- battles through `BattleService.write_ready`: the id is the row's `question_id` when it is
  a UUID (our dumps), else a UUID derived from it (or from the row's content when there is
  none), so importing the same file again adds nothing; mode from `anony`; prompt and
  conversation from `conversation_a`'s user messages (or a `prompt` column); the answers
  as outputs; category from the file or `categorise`; language from the file's `language`
  column (LMArena's names or codes) or detected;
- votes through `record_votes(..., VoteSource.IMPORT)`, the vote path's batch check.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import insert, select

from arena.errors import InvalidInput
from arena.services.battles import BattleService
from arena.services.categories import categorise
from arena.services.languages import detect_language, language_code
from arena.services.voters import Voters
from arena.store.schema import Battle, Model, Output, Vote, Voter
from arena.store.votes import Ballot, record_votes
from arena.vocabulary import (
    DIMENSIONS,
    BattleMode,
    BattleStatus,
    Dimension,
    Modality,
    ModelOrigin,
    ModelStatus,
    VoteSource,
    Winner,
)
from ranking import RankingError
from ranking.io import ANONY_COLUMN, OUTCOMES, _anonymous, _sniff, open_votes
from ranking.skipped import describe_skipped

NAMESPACE = uuid.UUID("5b0d7f52-8a0e-4c4e-9d43-6a1f1f2b7a10")  # battle ids derived from question ids
VOTER_PREFIX = "import-"
UNKNOWN_JUDGE = "unknown"
CHUNK_ROWS = 5_000
_ROW = "__import_row"
_LOOKUP = 500
_JUDGE = re.compile(r"^[A-Za-z0-9_-]{1,57}$")
_EXTRA_NOUNS = {
    "not_valid": "votes that did not count (is_valid false)",
    "other_modality": "rows of another modality",
    "bad_dimension": "rows with an unknown dimension",
    "already_imported": "votes already in the database",
}


@dataclass
class ImportReport:
    rows: int = 0
    votes: int = 0
    battles: int = 0
    voters: int = 0
    models: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    extra: Counter[str] = field(default_factory=Counter)

    def skipped_line(self) -> str | None:
        """One line, as `arena rank` says it, with the import's own reasons after."""
        line = describe_skipped(self.skipped)
        extras = [f"{n:,} {_EXTRA_NOUNS.get(k, k)}" for k, n in self.extra.items() if n]
        if not extras:
            return line
        return (line + "; " if line else "skipped: ") + ", ".join(extras)


def import_votes(
    battles: BattleService,
    voters: Voters,
    path: Path,
    *,
    modality: str | None = None,
    strict: bool = False,
    all_battles: bool = False,
    progress: Callable[[int], object] | None = None,
    total: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import a battle file; raises InvalidInput with a one-line message for bad input."""
    kind: Modality | None = None
    if modality is not None:
        try:
            kind = Modality(modality)
        except ValueError:
            raise InvalidInput(f"--modality must be one of: {', '.join(Modality)}") from None
    chunks, rows = _read_chunks(Path(path))
    if rows is not None and total is not None:
        total(rows)
    importer = _Importer(battles, voters, kind, strict, all_battles)
    try:
        for frame in chunks:
            importer.chunk(frame)
            if progress is not None:
                progress(len(frame))
    except RankingError as exc:
        raise InvalidInput(str(exc)) from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {Path(path).name}: {_first_line(exc)}") from None
    if importer.report.rows == 0:
        raise InvalidInput(f"no votes in {Path(path).name}")
    return importer.report


# --------------------------------------------------------------------------- reading


def _read_chunks(path: Path) -> tuple[Iterator[pd.DataFrame], int | None]:
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory, not a battle file")
    if path.stat().st_size == 0:
        raise InvalidInput(f"empty file: {path}")
    kind = _sniff(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            batches = pf.iter_batches(batch_size=CHUNK_ROWS)
            return (batch.to_pandas() for batch in batches), pf.metadata.num_rows
        if kind == "csv":
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            return iter(pd.read_csv(path, sep=sep, chunksize=CHUNK_ROWS)), None
        if kind == "jsonl":
            return iter(pd.read_json(path, lines=True, chunksize=CHUNK_ROWS, dtype=False)), None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {path.name} as {kind}: {_first_line(exc)}") from None
    return (pd.DataFrame.from_records(rows) for rows in _json_array(path)), None


def _json_array(path: Path, block: int = 1 << 20) -> Iterator[list[dict[str, Any]]]:
    """FastChat's clean_battle JSON (one array of battle objects), CHUNK_ROWS objects at a time,
    read a block at a time: memory holds one chunk, never the whole file."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        buffer, position, eof = "", 0, False

        def more() -> bool:
            nonlocal buffer, position, eof
            text = fh.read(block)
            eof = not text
            buffer, position = buffer[position:] + text, 0
            return not eof

        def skip(chars: str) -> None:
            nonlocal position
            while True:
                while position < len(buffer) and buffer[position] in chars:
                    position += 1
                if position < len(buffer) or not more():
                    return

        skip(" \t\r\n")
        if buffer[position : position + 1] != "[":
            raise InvalidInput(f"{path.name} is not a JSON list of battle objects")
        position += 1
        rows: list[dict[str, Any]] = []
        while True:
            skip(" \t\r\n,")
            if position >= len(buffer):
                raise InvalidInput(f"cannot read {path.name} as json: the list is not closed")
            if buffer[position] == "]":
                break
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, position)
                    break
                except ValueError as exc:
                    if eof or not more():
                        raise InvalidInput(f"cannot read {path.name} as json: {_first_line(exc)}") from None
            if not isinstance(value, dict):
                raise InvalidInput(f"{path.name} is not a JSON list of battle objects")
            rows.append(value)
            position = end
            if len(rows) >= CHUNK_ROWS:
                yield rows
                rows = []
        if rows:
            yield rows


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and value != value:
        return False
    return not (isinstance(value, str) and not value.strip())


def _messages(value: Any) -> list[dict[str, Any]]:
    """An OpenAI message list from a JSON string, a list of dicts or an arrow list of structs."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list):
        return []
    return [m for m in value if isinstance(m, dict)]


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, (list, np.ndarray)):  # [{"type": "text", "text": ...}, ...]
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _timestamp(value: Any) -> datetime | None:
    if not _present(value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(stamp):
        return None
    return (stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)).to_pydatetime()


def battle_id_of(row: dict[str, Any]) -> str:
    """The battle's id: the question id when it is a UUID, a UUID derived from it otherwise,
    or from the row's content when there is none (the same row gives the same id)."""
    question = row.get("question_id")
    if _present(question):
        text = str(question).strip()
        try:
            return str(uuid.UUID(text))
        except ValueError:
            return str(uuid.uuid5(NAMESPACE, text))
    keys = ("model_a", "model_b", "winner", "judge", "tstamp", "conversation_a", "conversation_b", "turn")
    content = json.dumps([str(row.get(k)) for k in keys], ensure_ascii=False)
    return str(uuid.uuid5(NAMESPACE, "row:" + hashlib.sha256(content.encode()).hexdigest()))


def voter_id_of(judge: Any) -> str:
    if not _present(judge):
        return VOTER_PREFIX + UNKNOWN_JUDGE
    text = str(judge).strip()
    if _JUDGE.match(text):
        return VOTER_PREFIX + text
    return VOTER_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- writing


class _Importer:
    def __init__(
        self, battles: BattleService, voters: Voters, kind: Modality | None, strict: bool, all_battles: bool
    ) -> None:
        self.battles = battles
        self.voters = voters
        self.store = battles.store
        self.kind = kind
        self.strict = strict
        self.all_battles = all_battles
        self.report = ImportReport()
        with self.store.read() as session:
            self.models: dict[str, str] = {
                name: modality for name, modality in session.execute(select(Model.name, Model.modality))
            }
        self.known_voters: set[str] = set()

    def chunk(self, frame: pd.DataFrame) -> None:
        if len(frame) == 0:
            return
        if "count" in frame.columns:
            raise InvalidInput("counted rows (a 'count' column) are not battles: import needs one row per vote")
        frame = frame.reset_index(drop=True)
        self.report.rows += len(frame)
        frame[_ROW] = np.arange(len(frame))
        stream = open_votes(frame, by=_ROW, strict=self.strict, all_battles=self.all_battles)
        kept: list[tuple[int, str, str, Winner]] = []
        for batch in stream.batches:
            assert batch.group is not None
            for a, b, w, g in zip(batch.a, batch.b, batch.winner, batch.group, strict=True):
                kept.append(
                    (
                        int(stream.groups.values[int(g)]),  # type: ignore[call-overload]
                        str(stream.models.values[int(a)]),
                        str(stream.models.values[int(b)]),
                        Winner(OUTCOMES[int(w)]),
                    )
                )
        for reason, n in stream.skipped.items():
            self.report.skipped[reason] = self.report.skipped.get(reason, 0) + n
        anonymous = (
            _anonymous(frame[ANONY_COLUMN]) if ANONY_COLUMN in frame.columns else np.ones(len(frame), dtype=bool)
        )
        self._write(frame, kept, anonymous)

    def _write(self, frame: pd.DataFrame, kept: list[tuple[int, str, str, Winner]], anonymous: np.ndarray) -> None:
        records = frame.to_dict(orient="records")
        planned: list[tuple[str, Modality, Dimension, dict[str, Any], str, str, Winner, bool]] = []
        for index, model_a, model_b, winner in kept:
            row = records[index]
            if "is_valid" in row and _present(row["is_valid"]) and not _truthy(row["is_valid"]):
                self.report.extra["not_valid"] += 1
                continue
            kind = self._modality_of(row)
            if kind is None:
                self.report.extra["other_modality"] += 1
                continue
            dimension = self._dimension_of(row, kind)
            if dimension is None:
                self.report.extra["bad_dimension"] += 1
                continue
            planned.append((battle_id_of(row), kind, dimension, row, model_a, model_b, winner, bool(anonymous[index])))
        if not planned:
            return
        ids = list({p[0] for p in planned})
        existing_battles, existing_votes = self._existing(ids)
        new_battles: dict[str, dict[str, Any]] = {}
        outputs: list[dict[str, Any]] = []
        ballots: list[Ballot] = []
        seen: set[tuple[str, str]] = set()
        new_models: dict[str, str] = {}
        new_voters: dict[str, dict[str, Any]] = {}
        for battle_id, kind, dimension, row, model_a, model_b, winner, anony in planned:
            if (battle_id, dimension.value) in existing_votes or (battle_id, dimension.value) in seen:
                self.report.extra["already_imported"] += 1
                continue
            seen.add((battle_id, dimension.value))
            for name in (model_a, model_b):
                known = self.models.get(name) or new_models.get(name)
                if known is None:
                    new_models[name] = kind.value
                elif known != kind.value:
                    raise InvalidInput(f"model {name!r} is a {known} model in this arena, not {kind.value}")
            voter = voter_id_of(row.get("judge"))
            if voter not in self.known_voters and voter not in new_voters:
                new_voters[voter] = {"id": voter, "created_at": datetime.now(UTC)}
            at = _timestamp(row.get("tstamp"))
            if battle_id not in existing_battles and battle_id not in new_battles:
                battle, answers = self._battle(battle_id, kind, row, model_a, model_b, voter, anony, at)
                new_battles[battle_id] = battle
                outputs.extend(answers)
            ballots.append(Ballot(battle_id, voter, winner, dimension, cast_at=at))
        if not ballots:
            return
        self._fresh_voters(new_voters)
        with self.store.atomic():
            if new_models:
                with self.store.write() as session:
                    session.execute(
                        insert(Model),
                        [
                            {
                                "name": name,
                                "modality": modality,
                                "backend": "import",
                                "options": {},
                                "weight": 1.0,
                                "status": ModelStatus.RETIRED.value,
                                "origin": ModelOrigin.IMPORT.value,
                            }
                            for name, modality in new_models.items()
                        ],
                    )
            if new_voters:
                self.voters.create_many(list(new_voters.values()))
            if new_battles:
                self.battles.write_ready(list(new_battles.values()))
            if outputs:
                with self.store.write() as session:
                    session.execute(insert(Output), outputs)
            record_votes(self.store, ballots, VoteSource.IMPORT)
        self.models.update(new_models)
        self.known_voters.update(new_voters)
        self.report.models.extend(new_models)
        self.report.voters += len(new_voters)
        self.report.battles += len(new_battles)
        self.report.votes += len(ballots)

    def _modality_of(self, row: dict[str, Any]) -> Modality | None:
        value = row.get("modality")
        if not _present(value):
            return self.kind or Modality.TEXT
        try:
            kind = Modality(str(value))
        except ValueError:
            return None
        return kind if self.kind is None or kind == self.kind else None

    @staticmethod
    def _dimension_of(row: dict[str, Any], kind: Modality) -> Dimension | None:
        value = row.get("dimension")
        if not _present(value):
            return Dimension.OVERALL
        try:
            dimension = Dimension(str(value))
        except ValueError:
            return None
        return dimension if dimension in DIMENSIONS[kind] else None

    def _existing(self, ids: list[str]) -> tuple[set[str], set[tuple[str, str]]]:
        battles: set[str] = set()
        votes: set[tuple[str, str]] = set()
        with self.store.read() as session:
            for k in range(0, len(ids), _LOOKUP):
                chunk = ids[k : k + _LOOKUP]
                battles.update(session.scalars(select(Battle.id).where(Battle.id.in_(chunk))))
                votes.update(
                    (str(b), str(d))
                    for b, d in session.execute(
                        select(Vote.battle_id, Vote.dimension).where(Vote.battle_id.in_(chunk))
                    ).all()
                )
        return battles, votes

    def _fresh_voters(self, new_voters: dict[str, dict[str, Any]]) -> None:
        """Leave out voters already in the database (an earlier import of the same file)."""
        ids = list(new_voters)
        with self.store.read() as session:
            for k in range(0, len(ids), _LOOKUP):
                for found in session.scalars(select(Voter.id).where(Voter.id.in_(ids[k : k + _LOOKUP]))):
                    new_voters.pop(found, None)
                    self.known_voters.add(found)

    @staticmethod
    def _battle(
        battle_id: str,
        kind: Modality,
        row: dict[str, Any],
        model_a: str,
        model_b: str,
        voter: str,
        anony: bool,
        at: datetime | None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        side_a, side_b = _messages(row.get("conversation_a")), _messages(row.get("conversation_b"))
        asked = [_text(m) for m in side_a if m.get("role") == "user"]
        prompt = asked[0] if asked else str(row["prompt"]) if _present(row.get("prompt")) else ""
        conversation = asked or ([prompt] if prompt else [])
        category = str(row["category"]) if _present(row.get("category")) else None
        if category is None and prompt:
            category = categorise(kind, prompt)
        language = language_code(row.get("language"))
        if language is None and kind == Modality.TEXT and prompt:
            language = detect_language(prompt)
        stamp = at or datetime.now(UTC)
        battle = {
            "id": battle_id,
            "modality": kind.value,
            "mode": (BattleMode.ANONYMOUS if anony else BattleMode.NAMED).value,
            "prompt": prompt,
            "conversation": conversation,
            "category": category[:32] if category else None,
            "language": language,
            "model_a": model_a,
            "model_b": model_b,
            "pair_probability": None,
            "status": BattleStatus.READY.value,
            "voter_id": voter,
            "created_at": stamp,
            "ready_at": stamp,
            "updated_at": stamp,
        }
        outputs: list[dict[str, Any]] = []
        for side, messages in (("a", side_a), ("b", side_b)):
            answers = [_text(m) for m in messages if m.get("role") == "assistant"]
            outputs.extend(
                {"battle_id": battle_id, "turn": turn, "side": side, "text": text, "media_type": "text/plain"}
                for turn, text in enumerate(answers)
            )
        return battle, outputs


def _truthy(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) == 1
    return str(value).strip().lower() in ("true", "t", "yes", "1")
