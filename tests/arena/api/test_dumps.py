"""Published dumps over HTTP (SQLite and PostgreSQL): the list, downloads, safe names, and a
board that `arena rank` reproduces from the downloaded file exactly as /api/v1/leaderboard has it."""

import hashlib
import json
import shlex

from arena import simulate
from arena.services.exports import export, export_options
from arena.vocabulary import Modality
from tests.conftest import arena_command, eventually

VOTES = 1200


def board(client, modality: str, votes: int) -> dict | None:
    answer = client.get("/api/v1/leaderboard", params={"modality": modality}).json()
    return answer if answer["status"] == "ok" and answer["votes"] == votes else None


def test_a_published_dump_is_listed_downloaded_and_reproduces_the_leaderboard(server, client, tmp_path):
    arena = server.arena
    assert client.get("/api/v1/dumps").json() == []
    simulate.bulk(arena, VOTES, [Modality.TEXT, Modality.IMAGE], seed=5)
    out = arena.settings.data_dir / "dumps" / "votes-test.parquet"
    manifest = export(arena.store, arena.settings, export_options(), out)

    listed = client.get("/api/v1/dumps").json()
    assert [entry["name"] for entry in listed] == ["votes-test.parquet"]
    entry = listed[0]
    assert (
        entry["rows"] == VOTES and entry["format"] == "parquet" and entry["url"] == "/api/v1/dumps/votes-test.parquet"
    )
    assert entry["size"] == out.stat().st_size and entry["first_vote"] < entry["last_vote"]
    assert entry["manifest"]["command"] == manifest["command"]

    download = client.get(entry["url"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/vnd.apache.parquet"
    assert hashlib.sha256(download.content).hexdigest() == entry["sha256"] == manifest["sha256"]
    assert client.get("/api/v1/dumps/votes-test.manifest.json").json()["sha256"] == entry["sha256"]
    for name in ("nope.parquet", "..%2Fsecret.key", "secret.key", "arena.db", "..", ".tmp-x.parquet"):
        missing = client.get(f"/api/v1/dumps/{name}")
        assert missing.status_code == 404, name
        assert missing.json()["error"], name

    # the researcher's side: the downloaded file and the manifest's command, nothing else
    (tmp_path / entry["name"]).write_bytes(download.content)
    command = shlex.split(manifest["command"])
    assert command[:3] == ["arena", "rank", entry["name"]]
    ranked = arena_command(*command[1:], cwd=tmp_path)
    assert ranked.returncode == 0, ranked.stderr
    by_board: dict[str, dict[str, float]] = {}
    for row in json.loads(ranked.stdout):
        by_board.setdefault(row["group"], {})[row["model"]] = row["rating"]
    for modality in ("text", "image"):
        published = eventually(
            lambda modality=modality: board(client, modality, manifest["boards"][f"{modality}/overall"]["votes"])
        )
        assert published, f"the {modality} board was not refitted"
        served = {row["model"]: row["rating"] for row in published["rows"]}
        in_manifest = {row["model"]: row["rating"] for row in manifest["boards"][f"{modality}/overall"]["rows"]}
        refitted = by_board[f"{modality}/overall"]
        assert served.keys() == refitted.keys() == in_manifest.keys()
        for model, rating in served.items():
            assert abs(refitted[model] - rating) < 1e-6 and abs(in_manifest[model] - rating) < 1e-6, model
