"""Vote dumps on SQLite and PostgreSQL: columns and values, manifests, pseudonyms, filters, releases."""

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import update

from arena import simulate
from arena.errors import InvalidInput
from arena.services import dump_tables
from arena.services.exports import (
    COLUMNS,
    ROLLING_KEEP,
    export,
    export_options,
    find_dump,
    list_dumps,
    manifest_path,
    write_release,
)
from arena.store.schema import Battle, Vote
from arena.store.votes import invalidate_votes
from arena.vocabulary import InvalidReason, Modality

VOTER = "voter-aaaa-0001"
OTHER = "voter-bbbb-0002"
NAMED = "voter-cccc-0003"


def read(path, fmt="parquet") -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    return pd.read_json(path, lines=True)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def voted(arena):
    """Five votes: a two-turn text battle, an image battle (two dimensions), a named battle, a withdrawn vote."""
    for voter in (VOTER, OTHER, NAMED):
        await arena.voters.ensure(voter)
    battles = arena.battles
    text = await battles.start("text", "Describe a garden.", VOTER)
    text = await battles.continue_(text.id, VOTER, "Now at night.")
    await battles.vote(text.id, VOTER, "model_a")
    image = await battles.start("image", "a red kite over a beach", VOTER)
    await battles.vote(image.id, VOTER, "both_bad")
    await battles.vote(image.id, VOTER, "model_b", "aesthetics")
    models = sorted(await battles.active_models("text"))[:2]
    named = await battles.start("text", "Hello there.", NAMED, models=tuple(models))
    await battles.vote(named.id, NAMED, "tie")
    withdrawn = await battles.start("text", "What is a tide?", OTHER)
    await battles.vote(withdrawn.id, OTHER, "model_b")
    invalidate_votes(arena.store, [OTHER], InvalidReason.WITHDRAWN)
    return {"text": text, "image": image, "named": named, "withdrawn": withdrawn}


async def test_a_dump_has_lmarena_columns_our_values_and_a_manifest_that_matches_it(arena, voted, tmp_path):
    with arena.store.write() as session:  # as language detection records it
        session.execute(update(Battle).where(Battle.id == voted["text"].id).values(language="en"))
    out = tmp_path / "dump.parquet"
    manifest = export(arena.store, arena.settings, export_options(), out)
    frame = read(out)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == manifest["rows"] == 5
    assert manifest["sha256"] == sha256(out) and manifest["size"] == out.stat().st_size
    assert json.loads(manifest_path(out).read_text()) == manifest
    assert manifest["schema_version"] == 1 and manifest["winner_labels"] == "arena"
    assert "k-anonymity" in " ".join(manifest["notes"])

    text = frame[frame.question_id == voted["text"].id].iloc[0]
    assert (text.winner, text.turn, text.anony, text.modality, text.dimension) == (
        "model_a",
        2,
        True,
        "text",
        "overall",
    )
    assert text.is_valid and pd.isna(text.invalid_reason) and text.source == "live" and text.board == "text/overall"
    conversation = json.loads(text.conversation_a)
    assert [m["role"] for m in conversation] == ["user", "assistant", "user", "assistant"]
    assert conversation[0]["content"] == "Describe a garden." and conversation[2]["content"] == "Now at night."
    assert conversation[1]["content"] == voted["text"].turns[0]["a"].text
    assert json.loads(text.conversation_b)[3]["content"] == voted["text"].turns[1]["b"].text
    assert text.prompt == "Describe a garden." and pd.isna(text.sha256_a) and text.language == "en"
    assert abs(text.tstamp - datetime.now(UTC).timestamp()) < 600

    image = frame[frame.question_id == voted["image"].id].set_index("dimension")
    assert set(image.index) == {"overall", "aesthetics"}
    assert image.loc["overall", "winner"] == "both_bad" and image.loc["aesthetics", "winner"] == "model_b"
    side_a = voted["image"].turns[0]["a"].artifact_sha256
    assert image.loc["overall", "sha256_a"] == side_a
    assert image.loc["overall", "url_a"] == f"/api/v1/artifacts/{side_a}"
    assert pd.isna(image.loc["overall", "conversation_a"]) and pd.isna(image.loc["overall", "language"])

    named = frame[frame.question_id == voted["named"].id].iloc[0]
    assert not named.anony and named.is_valid and pd.isna(named.board)
    withdrawn = frame[frame.question_id == voted["withdrawn"].id].iloc[0]
    assert not withdrawn.is_valid and withdrawn.invalid_reason == "withdrawn" and pd.isna(withdrawn.board)

    # pseudonyms only: no voter id, in any column, anywhere in the file or its manifest
    assert frame.judge.nunique() == 3 and frame.judge.str.fullmatch(r"[0-9a-f]{32}").all()
    for secret in (VOTER, OTHER, NAMED):
        assert secret.encode() not in out.read_bytes() and secret not in manifest_path(out).read_text()
    assert frame[frame.question_id == voted["text"].id].judge.iloc[0] == image.loc["overall", "judge"]

    # the boards: only anonymous valid votes, and the command refits them from the file
    assert set(manifest["boards"]) == {"text/overall", "image/overall", "image/aesthetics"}
    assert manifest["boards"]["text/overall"]["votes"] == 1
    assert manifest["command"].startswith("arena rank dump.parquet ") and "--by board" in manifest["command"]


async def test_csv_and_jsonl_hold_the_same_rows_and_lmarena_labels_rename_both_bad(arena, voted, tmp_path):
    frames = {}
    for fmt in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"dump.{fmt}"
        manifest = export(arena.store, arena.settings, export_options(fmt, winner_labels="lmarena"), out)
        assert manifest["sha256"] == sha256(out) and manifest["rows"] == 5
        assert "tie (bothbad)" in manifest["winner_values"] and "both_bad" not in manifest["winner_values"]
        frames[fmt] = read(out, fmt).sort_values(["question_id", "dimension"]).reset_index(drop=True)
    for fmt in ("csv", "jsonl"):
        assert list(frames[fmt].columns) == list(COLUMNS)
        for column in ("question_id", "model_a", "model_b", "winner", "dimension", "board", "conversation_a"):
            left, right = frames["parquet"][column], frames[fmt][column]
            assert [None if pd.isna(v) else v for v in left] == [None if pd.isna(v) else v for v in right], column
        assert frames[fmt].tstamp.tolist() == pytest.approx(frames["parquet"].tstamp.tolist())
    assert "tie (bothbad)" in set(frames["parquet"].winner) and "both_bad" not in set(frames["parquet"].winner)


async def test_judge_is_stable_within_a_dump_and_unlinkable_across_dumps(arena, tmp_path):
    simulate.bulk(arena, 600, [Modality.TEXT], seed=3)
    export(arena.store, arena.settings, export_options(), tmp_path / "one.parquet", chunk=64)  # many chunks
    export(arena.store, arena.settings, export_options(), tmp_path / "two.parquet")
    one, two = read(tmp_path / "one.parquet"), read(tmp_path / "two.parquet")
    with arena.store.read() as session:
        voters = dict(session.query(Vote.battle_id, Vote.voter_id).all())
    for frame in (one, two):
        pairs = set(zip(frame.question_id.map(voters), frame.judge, strict=True))
        assert len(pairs) == frame.judge.nunique() == len(set(voters.values()))  # one judge per voter
    assert len(one) == len(two) == one.question_id.nunique() == len(voters) == 600  # every vote, once
    assert not set(one.judge) & set(two.judge)
    assert one.drop(columns="judge").equals(two.drop(columns="judge"))


async def test_filters_choose_the_votes(arena, voted, tmp_path):
    def rows(**options) -> pd.DataFrame:
        out = tmp_path / "filtered.parquet"
        export(arena.store, arena.settings, export_options(**options), out)
        return read(out)

    assert set(rows(modality="image").question_id) == {voted["image"].id}
    assert rows(modality="image", dimension="aesthetics").winner.tolist() == ["model_b"]
    assert len(rows(valid_only=True)) == 4
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert len(rows(until=tomorrow)) == 5
    with pytest.raises(InvalidInput, match="no votes match"):
        rows(since=tomorrow)
    with pytest.raises(InvalidInput, match="no votes match"):
        rows(older_than_days="1")
    week_ago = datetime.now(UTC) - timedelta(days=7)
    with arena.store.write() as session:
        session.execute(update(Vote).where(Vote.battle_id == voted["named"].id).values(created_at=week_ago))
    old = rows(older_than_days=3)
    assert old.question_id.tolist() == [voted["named"].id]
    assert json.loads((tmp_path / "filtered.manifest.json").read_text())["filters"]["older_than_days"] == 3


@pytest.mark.parametrize(
    "options, words",
    [
        ({"format": "xml"}, "--format must be one of: parquet, csv, jsonl"),
        ({"modality": "video"}, "--modality must be one of"),
        ({"modality": "text", "dimension": "geometry"}, "--dimension for text must be one of: overall"),
        ({"dimension": "sound"}, "--dimension must be one of"),
        ({"since": "yesterday"}, "--since must be a date or time"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "--until must be later than --since"),
        ({"older_than_days": "-1"}, "--older-than must be between 0"),
        ({"older_than_days": "ten"}, "--older-than must be a number of days"),
        ({"winner_labels": "fastchat"}, "--winner-labels must be one of: arena, lmarena"),
    ],
)
def test_bad_export_options_name_the_allowed_values(options, words):
    with pytest.raises(InvalidInput) as caught:
        export_options(**options)
    assert words in str(caught.value)


async def test_releases_are_listed_rolled_and_found_by_safe_names_only(arena, voted):
    settings = arena.settings
    written = [write_release(arena.store, settings, 0) for _ in range(ROLLING_KEEP + 2)]
    assert all(path is not None for path in written)
    listed = list_dumps(settings)
    assert len(listed) == ROLLING_KEEP  # the oldest releases were removed with their manifests
    assert {info.name for info in listed} == {path.name for path in written[-ROLLING_KEEP:]}  # type: ignore[union-attr]
    newest = listed[0]
    assert newest.rows == 5 and newest.format == "parquet" and newest.first_vote and newest.last_vote
    assert find_dump(settings, newest.name) == (settings.data_dir / "dumps" / newest.name).resolve()
    for name in ("../secret.key", "..", "arena.db", "secret.key", "/etc/passwd", "%2e%2e", written[0].name):  # type: ignore[union-attr]
        assert find_dump(settings, name) is None
    assert write_release(arena.store, settings, 30) is None  # nothing old enough: no release
    (settings.data_dir / "dumps" / "odd.parquet").write_bytes(b"x")
    (settings.data_dir / "dumps" / "odd.manifest.json").write_text('{"name": "odd.parquet"}')
    (settings.data_dir / "dumps" / "junk.manifest.json").write_text("[1, 2")
    assert [info.name for info in list_dumps(settings)] == [info.name for info in listed]  # malformed: not listed


async def test_the_dump_job_writes_rolling_releases_on_its_schedule_and_is_off_by_default(arena, voted, monkeypatch):
    from dataclasses import replace

    from arena.jobs.dumps import DumpJob
    from arena.settings import from_environment
    from tests.conftest import eventually

    assert not arena.dump_job.enabled and arena.dump_job._thread is None  # ARENA_DUMP_EVERY unset: off
    monkeypatch.setenv("ARENA_DUMP_EVERY", "0.5")
    monkeypatch.setenv("ARENA_DUMP_OLDER_THAN_DAYS", "0")
    configured = from_environment()
    assert configured.dump_every == 0.5 and configured.dump_older_than_days == 0
    job = DumpJob(arena.store, replace(arena.settings, dump_every=1.0))
    job.start()
    try:
        listed = eventually(lambda: list_dumps(arena.settings), timeout=20)
    finally:
        job.stop()
    assert listed and listed[0].name.startswith("rolling-") and listed[0].rows == 5


@pytest.mark.parametrize("start", ["fork", "spawn"])
async def test_a_dump_shaped_by_worker_processes_holds_what_one_shaped_in_process_holds(
    arena, voted, tmp_path, monkeypatch, start
):
    """Large dumps are read and shaped by worker processes (id ranges dealt out in turn),
    forked from the command line, fresh interpreters in the server; a small chunk and
    threshold send these five votes through them, ranges both full and empty."""
    alone = export(arena.store, arena.settings, export_options("parquet"), tmp_path / "alone.parquet", chunk=2)
    monkeypatch.setattr(dump_tables, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(dump_tables, "start_method", lambda: start)
    seen: list[int] = []
    shared = export(
        arena.store,
        arena.settings,
        export_options("parquet"),
        tmp_path / "shared.parquet",
        chunk=2,
        progress=seen.append,
    )
    assert sum(seen) == 5 and len(seen) > 2  # one report per id range, empty ones included
    left, right = read(tmp_path / "alone.parquet"), read(tmp_path / "shared.parquet")
    assert list(left.question_id) == list(right.question_id)  # vote order kept across workers
    for column in set(COLUMNS) - {"judge"}:
        assert [None if pd.isna(v) else v for v in left[column]] == [None if pd.isna(v) else v for v in right[column]]
    pseudonyms = dict(zip(left.judge, right.judge, strict=True))  # another release: other pseudonyms, same voters
    assert len(set(pseudonyms.values())) == len(pseudonyms) == left.judge.nunique()
    for key in ("rows", "first_vote", "last_vote", "boards"):
        assert shared[key] == alone[key], key
    assert shared["sha256"] == sha256(tmp_path / "shared.parquet")


@pytest.mark.parametrize("start", ["fork", "spawn"])
async def test_a_worker_process_that_fails_fails_the_export_with_its_error_and_leaves_no_file(
    arena, voted, tmp_path, monkeypatch, start
):
    with arena.store.write() as session:  # a label the dump cannot split (as a hand-edited database might hold)
        session.execute(update(Battle).where(Battle.id == voted["image"].id).values(category="bad\x1flabel"))
    monkeypatch.setattr(dump_tables, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(dump_tables, "start_method", lambda: start)
    out = tmp_path / "dumps" / "dump.parquet"
    with pytest.raises(ValueError, match="separator"):
        export(arena.store, arena.settings, export_options("parquet"), out, chunk=2)
    assert list(out.parent.iterdir()) == []


def test_export_workers_are_fresh_interpreters_while_another_thread_runs():
    """A fork copies every lock but only the forking thread: a server's export must not fork."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert dump_tables.start_method() == "spawn"
    finally:
        release.set()
        other.join()
