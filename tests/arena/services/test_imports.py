"""`arena import`: LMArena / FastChat battle files become historical votes of retired models.

The arena's board after an import equals `ranking.rank` on the same file (the rows it
skips are the rows `arena rank` skips); imported models never enter a new battle; a
second import of the same file adds nothing; a dump exported and imported into a fresh
database gives the same board.
"""

import json
import random

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from arena.errors import InvalidInput
from arena.services.catalog import active_models, sync_models
from arena.services.exports import export, export_options
from arena.services.imports import battle_id_of, import_votes
from arena.services.leaderboards import board_key, rank_options
from arena.settings import Settings
from arena.store.schema import Battle, Model, Output, Vote
from arena.vocabulary import Dimension, GroupField, Modality, ModelOrigin, ModelStatus, VoteSource
from generators import load_models
from ranking import rank
from tests.conftest import ready_arena

MODELS = ["vicuna-13b", "koala-13b", "alpaca-13b", "chatglm-6b"]
STRENGTH = {"vicuna-13b": 1.0, "koala-13b": 0.4, "alpaca-13b": 0.0, "chatglm-6b": -0.5}
PROMPTS = [
    ("Write a Python function that reverses a list", "English"),
    ("Écris un poème sur la pluie d'automne.", "French"),
    ("Wie spät ist es gerade in Tokio?", None),
]


def battles(n: int = 240, seed: int = 7) -> list[dict]:
    """clean_battle rows (FastChat's shape), plus one self-comparison, one unknown label and a named battle."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        a, b = rng.sample(MODELS, 2)
        roll = rng.random()
        p_a = 1 / (1 + pow(10, (STRENGTH[b] - STRENGTH[a])))
        winner = (
            "tie" if roll < 0.1 else "tie (bothbad)" if roll < 0.15 else "model_a" if rng.random() < p_a else "model_b"
        )
        prompt, language = PROMPTS[k % len(PROMPTS)]
        rows.append(
            {
                "question_id": f"{k:032x}"[::-1] if k % 2 else f"q-{k}",
                "model_a": a,
                "model_b": b,
                "winner": winner,
                "judge": f"arena_user_{k % 17}",
                "turn": 1,
                "anony": True,
                "language": language,
                "tstamp": 1_700_000_000.0 + 60 * k,
                "conversation_a": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"A{k}"}],
                "conversation_b": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"B{k}"}],
            }
        )
    odd = dict(rows[0], question_id="self", model_b=rows[0]["model_a"])  # a model against itself
    unknown = dict(rows[1], question_id="unknown", winner="model_c")
    named = dict(rows[2], question_id="named", anony=False)
    return [*rows, odd, unknown, named]


@pytest.fixture
def clean_battle(tmp_path):
    path = tmp_path / "clean_battle_20240101.json"
    path.write_text(json.dumps(battles()))
    return path


@pytest.fixture
def parquet_file(tmp_path):
    """The same battles as LMArena's Parquet releases: conversations as lists of structs."""
    path = tmp_path / "battles.parquet"
    pq.write_table(pa.Table.from_pylist(battles()), path)
    return path


def ratings(records) -> dict[str, float]:
    return {row["model"]: row["rating"] for row in records}


def count(arena, table) -> int:
    with arena.store.read() as session:
        return session.scalar(select(func.count()).select_from(table))


@pytest.mark.parametrize("fixture", ["clean_battle", "parquet_file"])
async def test_the_board_after_an_import_is_arena_rank_on_the_file(arena, fixture, request):
    path = request.getfixturevalue(fixture)
    report = import_votes(arena.battles, arena.voters, path)
    assert report.votes == 240
    assert report.skipped == {"not_anonymous": 1, "missing_field": 0, "unknown_winner": 1, "self_comparison": 1}
    assert report.skipped_line() == (
        "skipped 3 rows: 1 non-anonymous battle, 1 unknown winner label, 1 self-comparison"
    )
    assert sorted(report.models) == sorted(MODELS)
    board = arena.leaderboards.refit(board_key("text"))
    assert board.status == "ok" and board.votes == 240
    expected = ratings(rank(path, rank_options(arena.settings)).records())
    got = ratings(board.rows)
    assert got.keys() == expected.keys()
    for model, rating in expected.items():
        assert got[model] == pytest.approx(rating, abs=1e-6)
    with arena.store.read() as session:
        sources = set(session.scalars(select(Vote.source).distinct()))
        battle = session.get(Battle, battle_id_of({"question_id": "q-0"}))
        assert battle.prompt == PROMPTS[0][0] and battle.language == "en" and battle.category == "coding"
        assert session.scalars(
            select(Output.text).where(Output.battle_id == battle.id).order_by(Output.side)
        ).all() == [
            "A0",
            "B0",
        ]
        languages = set(session.scalars(select(Battle.language).distinct()))
    assert sources == {VoteSource.IMPORT}
    assert languages == {"en", "fr", "de"}  # from the file's names, and detected where it had none


async def test_imported_models_are_retired_and_never_drawn(arena, clean_battle):
    import_votes(arena.battles, arena.voters, clean_battle)
    with arena.store.read() as session:
        states = {
            name: (status, origin)
            for name, status, origin in session.execute(
                select(Model.name, Model.status, Model.origin).where(Model.name.in_(MODELS))
            )
        }
    assert states == dict.fromkeys(MODELS, (ModelStatus.RETIRED.value, ModelOrigin.IMPORT.value))
    assert not set(MODELS) & set(active_models(arena.store, Modality.TEXT))
    sync_models(arena.store, load_models(arena.settings.models_file))  # a restart: the file leaves them alone
    assert not set(MODELS) & set(active_models(arena.store, Modality.TEXT))
    await arena.voters.ensure("voter-import-0001")
    for _ in range(10):
        view = await arena.battles.start("text", "Tell me about rivers.", "voter-import-0001")
        pair = await arena.battles.pair_of(view.id)
        assert not set(pair) & set(MODELS)


async def test_importing_the_same_file_again_adds_nothing(arena, clean_battle):
    first = import_votes(arena.battles, arena.voters, clean_battle)
    votes, battles_ = count(arena, Vote), count(arena, Battle)
    again = import_votes(arena.battles, arena.voters, clean_battle)
    assert (first.votes, again.votes, again.battles, again.voters, again.models) == (240, 0, 0, 0, [])
    assert again.extra["already_imported"] == 240
    assert (count(arena, Vote), count(arena, Battle)) == (votes, battles_)


async def test_all_battles_imports_named_battles_that_never_count(arena, clean_battle):
    report = import_votes(arena.battles, arena.voters, clean_battle, all_battles=True)
    assert report.votes == 241
    with arena.store.read() as session:
        named = session.scalar(select(func.count()).select_from(Vote).where(~Vote.anonymous))
    assert named == 1
    assert arena.leaderboards.refit(board_key("text")).votes == 240


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"model_a": "x", "model_b": "y", "winner": "tie"}, {"a": 1', "cannot read bad.json as json"),
        ('{"a": 1}', "missing columns model_a, model_b, winner"),  # read as JSON lines
        ("[]", "no votes in bad.json"),
        ("[1, 2]", "not a JSON list of battle objects"),
        ('[{"model_a": "x", "model_b": "y"}]', "missing column winner"),
    ],
)
async def test_bad_files_are_one_line_errors(arena, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        import_votes(arena.battles, arena.voters, path)
    assert count(arena, Vote) == 0


async def test_a_json_list_is_read_in_chunks(arena, tmp_path, monkeypatch):
    from arena.services import imports

    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(battles(50), indent=2))
    chunks = [len(rows) for rows in imports._json_array(path, block=100)]
    assert chunks == [7] * 7 + [4]  # 53 rows: 50 battles and the three odd ones
    assert import_votes(arena.battles, arena.voters, path).votes == 50


async def test_strict_refuses_the_first_unusable_row(arena, clean_battle):
    with pytest.raises(InvalidInput, match="unknown winner label|compare a model with itself"):
        import_votes(arena.battles, arena.voters, clean_battle, strict=True)


async def test_a_dump_exported_and_imported_into_a_fresh_database_gives_the_same_board(
    arena, clean_battle, tmp_path, models_file
):
    import_votes(arena.battles, arena.voters, clean_battle)
    before = arena.leaderboards.refit(board_key("text"))
    dump = tmp_path / "dump.parquet"
    export(arena.store, arena.settings, export_options("parquet"), dump)
    fresh = ready_arena(
        Settings(
            data_dir=tmp_path / "fresh",
            models_file=models_file,
            database_url=f"sqlite:///{tmp_path / 'fresh.db'}",
            secret_key="another-secret",
            leaderboard_refresh_s=3600,
            min_dwell_ms=0,
        )
    )
    await fresh.start(jobs=False)
    try:
        report = import_votes(fresh.battles, fresh.voters, dump)
        assert report.votes == 240
        after = fresh.leaderboards.refit(board_key("text"))
    finally:
        await fresh.stop()
    assert after.votes == before.votes
    for model, rating in ratings(before.rows).items():
        assert ratings(after.rows)[model] == pytest.approx(rating, abs=1e-6)


async def test_csv_and_jsonl_files_import_like_the_json(arena, tmp_path):
    frame = pd.DataFrame(battles(60))
    for side in ("conversation_a", "conversation_b"):
        frame[side] = frame[side].map(json.dumps)  # flat files hold the message lists as JSON text
    csv, jsonl = tmp_path / "battles.csv", tmp_path / "battles.jsonl"
    frame.to_csv(csv, index=False)
    frame.to_json(jsonl, orient="records", lines=True)
    first = import_votes(arena.battles, arena.voters, csv)
    second = import_votes(arena.battles, arena.voters, jsonl)
    assert (first.votes, second.votes, second.extra["already_imported"]) == (60, 0, 60)
    board = arena.leaderboards.refit(board_key("text"))
    expected = ratings(rank(csv, rank_options(arena.settings)).records())
    for model, rating in expected.items():
        assert ratings(board.rows)[model] == pytest.approx(rating, abs=1e-6)


async def test_imported_prompts_feed_the_language_board(arena, clean_battle):
    import_votes(arena.battles, arena.voters, clean_battle)
    arena.leaderboards.refit(board_key("text"))  # a main board's refit refreshes its publishable groups
    languages = arena.leaderboards.group_values(Modality.TEXT, Dimension.OVERALL)[GroupField.LANGUAGE]
    assert languages == ["de", "en", "fr"]  # 17 judges behind each: over k
    board = arena.leaderboards.refit(board_key("text", group=("language", "fr")))
    assert board.status == "ok" and board.votes == 80


async def test_the_models_file_never_touches_submitted_or_imported_models(arena):
    entries = load_models(arena.settings.models_file)
    namesake = entries[0].name  # an imported model of the same name as a file entry
    with arena.store.write() as session:
        session.query(Model).filter(Model.name == namesake).delete()
        session.add(Model(name=namesake, modality="text", backend="import", status="retired", origin="import"))
        session.add(Model(name="submitted-1", modality="text", backend="openai", status="active", origin="submission"))
    sync_models(arena.store, entries)  # "submitted-1" is not in the file: still not disabled
    with arena.store.read() as session:
        query = select(Model.name, Model.status).where(Model.name.in_([namesake, "submitted-1"]))
        states = {name: status for name, status in session.execute(query)}
    assert states == {namesake: "retired", "submitted-1": "active"}
