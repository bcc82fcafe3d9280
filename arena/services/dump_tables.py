"""Vote rows into the columns of a dump: one pyarrow Table per chunk, in LMArena's column names.

Shaping is column-wise: Python touches each distinct voter, conversation, label set and
demographic snapshot once per chunk, and rows only of battles with stored outputs (their
replies); the rest is pyarrow's work in C. A dump of many votes is shaped by worker
processes, one more than the cores (`parallel_tables`). This module imports only the
store and pyarrow, so a worker process starts quickly.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import itertools
import json
import os
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from arena.store.dumps import (
    DEMOGRAPHICS,
    LABELS,
    ROW_FIELDS,
    SEPARATOR,
    DumpFilter,
    dump_rows,
    has_outputs,
    turn_outputs,
    vote_id_bounds,
)
from arena.store.engine import Store
from arena.vocabulary import Modality, Winner

LMARENA_WINNERS = {Winner.BOTH_BAD.value: "tie (bothbad)"}

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
Demographics = dict[tuple[str | None, ...], tuple[str | None, ...]]  # snapshot as stored -> as published
# Caches of the export, bounded so memory stays flat whatever the votes: pseudonyms (~150
# bytes each) and short conversation texts (at most _CACHED_CHARS characters each).
_CACHED_JUDGES = 200_000
_CACHED_TEXTS = 10_000
_CACHED_CHARS = 1_000


class Shaper:
    """Turns database rows into dump columns and keeps what the manifest needs (counts, time range)."""

    def __init__(
        self,
        salt: bytes,
        labels: str,
        base_url: str,
        per_voter: bool,
    ):
        self.salt = salt
        # snapshot as stored -> as published (k-anonymised): set before the first chunk is shaped
        self.demographics: Demographics = {}
        self._shown: dict[str, tuple[str | None, ...]] = {}  # stored snapshot text -> published values
        self.relabel = LMARENA_WINNERS if labels == "lmarena" else {}
        self.base_url = base_url
        self.per_voter = per_voter  # counts per judge too (the voter-cluster bootstrap needs them)
        self.judges: dict[str, str] = {}
        self.counts: Counter[tuple[str, ...]] = Counter()  # (board, model_a, model_b, winner[, judge])
        self.first: float | None = None
        self.last: float | None = None
        self.rows_not_counted = 0
        self._parsed: dict[str, list[str]] = {}

    def summary(self) -> tuple[Counter[tuple[str, ...]], float | None, float | None, int]:
        """What the manifest needs of the rows this shaper saw (sent back by a worker process)."""
        return self.counts, self.first, self.last, self.rows_not_counted

    def merge(self, summary: tuple[Counter[tuple[str, ...]], float | None, float | None, int]) -> None:
        counts, first, last, not_counted = summary
        self.counts.update(counts)
        if first is not None and last is not None:
            self.first = first if self.first is None else min(self.first, first)
            self.last = last if self.last is None else max(self.last, last)
        self.rows_not_counted += not_counted

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

        Column-wise on purpose: Python touches each distinct voter and each distinct
        conversation once per chunk, and rows only of battles with stored outputs (their
        replies); everything else is pyarrow's work in C.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        # a list per column (what zip(*rows) gives, at a fraction of its cost for 20k rows)
        battle_id, voter_id, created_at, conversation, anonymous, valid, labels, profile = (
            list(map(itemgetter(index), rows)) for index in range(len(ROW_FIELDS))
        )
        string = pa.string()
        label = dict(zip(LABELS, _split(pa.array(labels, string), len(LABELS)), strict=True))
        kinds = label["modality"]
        is_text = pc.equal(kinds, Modality.TEXT.value)
        voters = pa.array(voter_id, string).dictionary_encode()
        judges = pc.take(pa.array([self.judge(v) for v in voters.dictionary.to_pylist()], string), voters.indices)
        asked = pa.array(conversation, string).dictionary_encode()
        distinct = asked.dictionary.to_pylist()
        turns = [self._turns(raw) for raw in distinct]
        prompt = pc.take(pa.array([t[0] if t else None for t in turns], string), asked.indices)
        turn = pc.take(pa.array([len(t) or 1 for t in turns], pa.int32()), asked.indices)
        # text without stored replies (bulk votes): both sides hold the user turns only
        users = pc.take(pa.array([_conversation(t, _NONE, "a") for t in turns], string), asked.indices)
        conversation_a = conversation_b = pc.if_else(is_text, users, pa.scalar(None, string))
        sha_a = sha_b = pa.nulls(len(rows), string)
        if outputs:
            conversation_a, conversation_b, sha_a, sha_b = self._replies(
                battle_id, kinds.to_pylist(), conversation, outputs, (conversation_a, conversation_b, sha_a, sha_b)
            )
        anony = pa.array(anonymous).cast(pa.bool_())
        is_valid = pa.array(valid).cast(pa.bool_())
        dimensions = label["dimension"]
        stamps = pa.array(created_at)
        if pa.types.is_string(stamps.type):  # SQLite: UTC text
            stamps = stamps.cast(pa.timestamp("us"))
        seconds = pc.divide(stamps.cast(pa.timestamp("us")).cast(pa.int64()).cast(pa.float64()), 1e6)
        artifacts = f"{self.base_url}/api/v1/artifacts/"
        columns = {
            "question_id": pa.array(battle_id, string),
            "model_a": label["model_a"],
            "model_b": label["model_b"],
            "winner": label["winner"],
            "judge": judges,
            "turn": turn,
            "anony": anony,
            "language": label["language"],
            "tstamp": seconds,
            "conversation_a": conversation_a,
            "conversation_b": conversation_b,
            "prompt": prompt,
            "sha256_a": sha_a,
            "sha256_b": sha_b,
            "url_a": pc.binary_join_element_wise(artifacts, sha_a, ""),
            "url_b": pc.binary_join_element_wise(artifacts, sha_b, ""),
            "modality": kinds,
            "dimension": dimensions,
            "category": label["category"],
            "is_valid": is_valid,
            "invalid_reason": label["invalid_reason"],
            "source": label["source"],
            "board": pc.if_else(
                pc.and_(is_valid, anony),
                pc.binary_join_element_wise(kinds, dimensions, "/"),
                pa.scalar(None, string),
            ),
            **dict(zip(DEMOGRAPHICS, self._published(pa.array(profile, string)), strict=True)),
        }
        table = pa.table(columns, schema=arrow_schema())
        self._count(table, pc)
        for ours, theirs in self.relabel.items():
            labels = table["winner"]
            table = table.set_column(3, "winner", pc.if_else(pc.equal(labels, ours), theirs, labels))
        return table

    def _replies(
        self,
        battle_id: Sequence[str],
        modality: Sequence[str],
        conversation: Sequence[str],
        outputs: dict[str, dict[tuple[int, str], Any]],
        columns: tuple[Any, Any, Any, Any],
    ) -> tuple[Any, Any, Any, Any]:
        """conversation_a/b and sha256_a/b with the stored outputs of the chunk's battles put in."""
        import pyarrow as pa
        import pyarrow.compute as pc

        text_rows: list[bool] = [False] * len(battle_id)
        other_rows: list[bool] = [False] * len(battle_id)
        replies: dict[str, list[str | None]] = {"a": [], "b": []}
        digests: dict[str, list[str | None]] = {"a": [], "b": []}
        for index, battle in enumerate(battle_id):
            found = outputs.get(battle)
            if not found:
                continue
            if modality[index] == Modality.TEXT:
                text_rows[index] = True
                turns = self._turns(conversation[index])
                for side in "ab":
                    replies[side].append(_conversation(turns, found, side))
            else:
                other_rows[index] = True
                for side in "ab":
                    digests[side].append(_last_artifact(found, side))
        conversation_a, conversation_b, sha_a, sha_b = columns
        if replies["a"]:
            mask = pa.array(text_rows)
            conversation_a = pc.replace_with_mask(conversation_a, mask, pa.array(replies["a"], pa.string()))
            conversation_b = pc.replace_with_mask(conversation_b, mask, pa.array(replies["b"], pa.string()))
        if digests["a"]:
            mask = pa.array(other_rows)
            sha_a = pc.replace_with_mask(sha_a, mask, pa.array(digests["a"], pa.string()))
            sha_b = pc.replace_with_mask(sha_b, mask, pa.array(digests["b"], pa.string()))
        return conversation_a, conversation_b, sha_a, sha_b

    def _published(self, profile: Any) -> list[Any]:
        """The demographic columns as published (k-anonymised), worked out once per distinct
        snapshot (no more of them are kept than `demographics` holds)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        snapshots = profile.dictionary_encode()
        shown = [self._snapshot(text) for text in snapshots.dictionary.to_pylist()]
        columns = zip(*shown, strict=True) if shown else [()] * len(DEMOGRAPHICS)
        return [pc.take(pa.array(values, pa.string()), snapshots.indices) for values in columns]

    def _snapshot(self, text: str) -> tuple[str | None, ...]:
        found = self._shown.get(text)
        if found is None:
            stored = tuple(value or None for value in text.split(SEPARATOR))
            found = self.demographics.get(stored, _HIDDEN)
            if stored in self.demographics:
                self._shown[text] = found
        return found

    def _turns(self, raw: str) -> list[str]:
        """A battle's user turns from the column's JSON text; a short text is parsed once
        (prompts from the shipped sets repeat)."""
        found = self._parsed.get(raw)
        if found is None:
            found = json.loads(raw)
            if len(raw) <= _CACHED_CHARS:
                if len(self._parsed) >= _CACHED_TEXTS:
                    self._parsed.clear()
                self._parsed[raw] = found
        return found

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


def _split(joined: Any, width: int) -> list[Any]:
    """Columns of a column of SEPARATOR-joined texts ('' read as null), split once per distinct text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = joined.dictionary_encode()
    parts = [text.split(SEPARATOR) for text in encoded.dictionary.to_pylist()]
    if any(len(values) != width for values in parts):
        raise ValueError("a stored label holds the dump's separator (ASCII 31)")
    columns = zip(*parts, strict=True) if parts else [()] * width
    return [pc.take(pa.array([value or None for value in values], pa.string()), encoded.indices) for values in columns]


_NONE: dict[tuple[int, str], Any] = {}
_HIDDEN: tuple[None, ...] = (None,) * len(DEMOGRAPHICS)
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


def tables(
    store: Store, shaper: Shaper, batches: Iterable[Sequence[Sequence[Any]]], progress: Callable[[int], None] | None
) -> Iterator[Any]:
    """Each batch of `dump_rows` as a shaped table (an empty one for an empty batch)."""
    lookup = has_outputs(store)
    for rows in batches:
        outputs = turn_outputs(store, [row[0] for row in rows]) if lookup and rows else {}
        yield shaper.shape(rows, outputs) if rows else arrow_schema().empty_table()
        if progress is not None:
            progress(len(rows))


# A dump of at least this many votes is read and shaped by worker processes: reading and
# shaping rows is Python work that one core cannot speed up, and below this size starting
# the processes costs more than the second core saves. One worker more than the cores (at
# most _WORKERS): the main process mostly waits for their batches, and the extra worker
# fills that time (1M votes on 2 cores: 9.4 s with 3 workers, 10.2 s with 2, 12.6 s with 4).
PARALLEL_ROWS = 300_000
_WORKERS = 4
# Batches a worker reads ahead while the k-anonymity of the dump's demographics, which
# shaping needs, is still being worked out (about 1.5 s at a million votes): bounded, so
# memory stays flat (8 x 20,000 rows is ~40 MiB a worker).
_READ_AHEAD = 8
_PIPE_BYTES = 16 << 20  # a worker's pipe, where the system allows: room for a compressed batch or more


def shaped_tables(
    store: Store,
    where: DumpFilter,
    shaper: Shaper,
    demographics: Callable[[], Demographics],
    chunk: int,
    progress: Callable[[int], None] | None,
    expected: int,
    meanwhile: Callable[[], object] = lambda: None,
) -> Iterator[Any]:
    """The dump's tables in vote order: shaped here, or by worker processes when `expected`
    rows are many. `demographics` gives the published (k-anonymised) snapshots; it is
    called once, while the workers, if any, already read. `meanwhile` is this process's
    own preparation, done while the workers shape."""
    in_memory = store.engine.url.database in (None, "", ":memory:")
    workers = 1 if expected < PARALLEL_ROWS or in_memory else min(_WORKERS, len(os.sched_getaffinity(0)) + 1)
    if workers == 1:
        shaper.demographics = demographics()
        meanwhile()
        return tables(store, shaper, dump_rows(store, where, chunk), progress)
    return parallel_tables(store, where, shaper, demographics, chunk, progress, workers, meanwhile)


def parallel_tables(
    store: Store,
    where: DumpFilter,
    shaper: Shaper,
    demographics: Callable[[], Demographics],
    chunk: int,
    progress: Callable[[int], None] | None,
    workers: int,
    meanwhile: Callable[[], object] = lambda: None,
) -> Iterator[Any]:
    """The dump's tables in vote order, read and shaped by `workers` processes.

    The votes' id span is cut into ranges of `chunk` ids, dealt out in turn. Each worker
    writes one Arrow IPC stream down a pipe of its own, a record batch per range, read here
    in range order, so a worker runs at most a batch ahead (the pipe blocks it) and memory
    stays bounded; the batches cross as lz4-compressed Arrow buffers, never as Python
    objects. A second pipe per worker takes it the published demographics, worked out
    here while the workers already read, and brings back its counts for the manifest
    (merged into `shaper`) or the error it stopped on; `meanwhile` runs here in a thread
    of its own once they have the demographics, so that this process reads their batches
    meanwhile. Workers start as `start_method` says.
    """
    import multiprocessing
    import threading

    import pyarrow as pa

    bounds = vote_id_bounds(store, where)
    if bounds is None:
        return
    ranges = [(start, start + chunk) for start in range(bounds[0], bounds[1] + 1, chunk)]
    url = store.engine.url.render_as_string(hide_password=False)
    context: Any = multiprocessing.get_context(start_method())  # typeshed: a BaseContext has no Process
    streams: list[Any] = []
    controls: list[Any] = []
    processes: list[Any] = []
    try:
        for index in range(workers):
            stream, sink = context.Pipe(duplex=False)
            _widen(stream.fileno())
            control, theirs = context.Pipe()
            process = context.Process(
                target=_work, args=(url, where, shaper, chunk, ranges[index::workers], sink, theirs), daemon=True
            )
            process.start()
            sink.close()
            theirs.close()
            streams.append(os.fdopen(os.dup(stream.fileno()), "rb"))
            stream.close()
            controls.append(control)
            processes.append(process)
        published = pickle.dumps(demographics())
        for control in controls:
            control.send_bytes(published)
        threading.Thread(target=meanwhile, name="export-meanwhile", daemon=True).start()  # forked already
        readers: list[Any] = [None] * workers
        for index in range(len(ranges)):
            worker = index % workers
            try:
                if readers[worker] is None:
                    readers[worker] = pa.ipc.open_stream(streams[worker])
                batch = readers[worker].read_next_batch()
            except (StopIteration, OSError, pa.ArrowInvalid):  # it stopped early: its report says why
                _report(controls[worker])
                raise RuntimeError("an export worker process stopped unexpectedly") from None
            if progress is not None:
                progress(batch.num_rows)
            yield pa.Table.from_batches([batch])
        for control in controls:
            shaper.merge(pickle.loads(_report(control)))
    finally:
        for handle in [*streams, *controls]:
            handle.close()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _widen(pipe: int) -> None:
    """Give a worker's pipe room for a batch where Linux allows it: through the default
    64 KiB a batch crosses in dozens of turns between the worker and this process, each a
    wait for the scheduler while the other worker holds the second core."""
    import fcntl

    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, min(limit, _PIPE_BYTES))
    except (OSError, ValueError, AttributeError):  # not Linux, or the limit is lower: the default pipe
        pass


def start_method() -> str:
    """Fork when this process runs no other thread (the command line): the workers start at
    once with every module already imported. Otherwise (the server's scheduled releases)
    each is a fresh interpreter, since a fork copies no thread but every lock."""
    import threading

    return "fork" if threading.active_count() == 1 else "spawn"


def _report(control: Any) -> bytes:
    """A worker's closing report, its counts; a failure it reports is raised here, as it was raised there."""
    try:
        data = control.recv_bytes()
    except EOFError:
        raise RuntimeError("an export worker process stopped unexpectedly") from None
    if data[:1] == b"E":
        raise pickle.loads(data[1:])
    return data[1:]


def _work(
    url: str,
    where: DumpFilter,
    shaper: Shaper,
    chunk: int,
    ranges: list[tuple[int, int]],
    sink: Any,
    control: Any,
) -> None:
    """A worker process of `parallel_tables`: a record batch per range down `sink`, then its
    counts on `control`. It reads up to _READ_AHEAD batches of rows before the published
    demographics arrive on `control`."""
    import pyarrow as pa

    from arena.store.engine import make_engine

    # Rows are tuples that live for a batch (up to _READ_AHEAD of them): the cycle collector
    # would walk millions of them again and again, for nothing; the few cycles the driver
    # leaves per batch are freed when the worker exits.
    gc.disable()
    engine = make_engine(url)
    try:
        store = Store(engine, threads=1)
        batches = dump_rows(store, where, chunk, ranges)
        ahead: list[Sequence[Sequence[Any]]] = []
        while len(ahead) < _READ_AHEAD and not control.poll():
            rows = next(batches, None)
            if rows is None:
                break
            ahead.append(rows)
        shaper.demographics = pickle.loads(control.recv_bytes())
        schema = arrow_schema()
        # unbuffered: a batch's tail left in a buffer would reach the pipe only with the next
        # batch, and the reader, who needs it first, would wait for it (the workers then
        # took turns instead of working together)
        with (
            os.fdopen(os.dup(sink.fileno()), "wb", buffering=0) as out,
            pa.ipc.new_stream(out, schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer,
        ):
            for table in tables(store, shaper, itertools.chain(ahead, batches), None):
                writer.write_batch(table.combine_chunks().to_batches()[0] if table.num_rows else _empty(schema))
        control.send_bytes(b"S" + pickle.dumps(shaper.summary()))
    except (BrokenPipeError, EOFError):  # the export stopped (its own error, or Ctrl-C): nothing to report
        pass
    except BaseException as exc:
        try:
            error = pickle.dumps(exc)
            pickle.loads(error)
        except Exception:
            error = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
        try:
            control.send_bytes(b"E" + error)
        except OSError:
            pass
    finally:
        sink.close()
        control.close()
        engine.dispose()


def _empty(schema: Any) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([], schema=schema)


def arrow_schema():
    import pyarrow as pa

    types = {"string": pa.string(), "int32": pa.int32(), "bool": pa.bool_(), "float64": pa.float64()}
    return pa.schema([pa.field(name, types[kind]) for name, (kind, _) in COLUMNS.items()])
