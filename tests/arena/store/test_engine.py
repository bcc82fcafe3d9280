"""The vote store: migrations, SQLite settings, the artifact store."""

import io

import trimesh
from PIL import Image
from sqlalchemy import inspect, text

from arena.store.artifacts import ArtifactStore
from arena.store.engine import current_revision, head_revision, make_engine, upgrade


def test_migration_from_an_empty_database_creates_every_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"models", "voters", "battles", "outputs", "votes"} <= set(inspect(engine).get_table_names())
    upgrade(engine)  # a second upgrade is a no-op
    assert current_revision(engine) == head_revision()


def test_migration_on_postgresql(postgres_url):
    engine = make_engine(postgres_url)
    assert current_revision(engine) == head_revision()
    columns = {c["name"] for c in inspect(engine).get_columns("votes")}
    assert {"battle_id", "voter_id", "dimension", "winner", "dwell_ms", "valid", "invalid_reason"} <= columns
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_artifact_store_round_trips_png_and_glb(tmp_path):
    store = ArtifactStore(tmp_path)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(buffer, format="PNG")
    png = buffer.getvalue()
    glb = trimesh.creation.box().export(file_type="glb")

    png_digest = store.put(png, "image/png")
    glb_digest = store.put(glb, "model/gltf-binary")

    assert store.get(png_digest) == png
    assert store.find(png_digest)[1] == "image/png"
    assert Image.open(io.BytesIO(store.get(png_digest))).size == (8, 6)
    assert store.find(glb_digest)[1] == "model/gltf-binary"
    assert len(trimesh.load(io.BytesIO(store.get(glb_digest)), file_type="glb").geometry) == 1
    assert store.put(png, "image/png") == png_digest  # idempotent


def test_artifact_store_rejects_malformed_digests(tmp_path):
    store = ArtifactStore(tmp_path)
    assert store.find("../../etc/passwd") is None
    assert store.find("ab" * 32) is None


def _schema_drift(engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from arena.store.schema import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return [
            diff
            for diff in compare_metadata(context, Base.metadata)
            if not (isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == "alembic_version")
        ]


def test_the_migrations_build_exactly_the_tables_the_code_declares(tmp_path, postgres_url):
    """A column, index or table added to schema.py without a migration (or the reverse) fails here."""
    engine = make_engine(f"sqlite:///{tmp_path / 'drift.db'}")
    upgrade(engine)
    assert _schema_drift(engine) == []
    engine.dispose()
    engine = make_engine(postgres_url)
    assert _schema_drift(engine) == []
    engine.dispose()
