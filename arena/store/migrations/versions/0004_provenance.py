"""Where things come from: a vote's demographic snapshot, a battle's language, a model's origin.

- `votes.age_band`, `gender`, `country`, `first_language`, `expertise`: the voter's coarse
  profile when the vote was cast, so editing a profile does not rewrite history (and
  deleting it erases them from past votes too).
- `battles.language`: the detected language of a text prompt.
- `models.origin` (file, submission, import) and the model states `probing`, `rejected`
  and `retired`: imported models are retired (on boards with their history, never in
  new battles); submissions are probed, then approved or rejected.

Columns are plain ADD COLUMNs. SQLite cannot change a CHECK constraint in place, so the
small models table is rebuilt by the documented twelve-step procedure (new table, copy,
drop, rename) with foreign keys off (see arena.store.engine.upgrade). Allowed values are
spelled out here because a migration must keep meaning what it meant.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEMOGRAPHICS = (("age_band", 16), ("gender", 32), ("country", 2), ("first_language", 16), ("expertise", 32))
STATUS = "status IN ('active', 'disabled', 'pending', 'probing', 'rejected', 'retired')"
OLD_STATUS = "status IN ('active', 'disabled', 'pending')"
ORIGIN = "origin IN ('file', 'submission', 'import')"
MODEL_COLUMNS = (
    "id, name, modality, backend, options, organisation, license, open_weights, parameters, output_format, "
    "weight, status, created_at, disabled_reason, disabled_by"
)


def _models_table(status: str, with_origin: bool) -> str:
    origin = "\n    origin VARCHAR(10) DEFAULT 'file' NOT NULL," if with_origin else ""
    origin_check = f",\n    CONSTRAINT ck_models_origin CHECK ({ORIGIN})" if with_origin else ""
    return f"""CREATE TABLE _models_new (
    id INTEGER NOT NULL,
    name VARCHAR(100) NOT NULL,
    modality VARCHAR(8) NOT NULL,
    backend VARCHAR(16) NOT NULL,
    options JSON NOT NULL,
    organisation VARCHAR(200),
    license VARCHAR(100),
    open_weights BOOLEAN,
    parameters VARCHAR(100),
    output_format VARCHAR(100),
    weight FLOAT NOT NULL,
    status VARCHAR(10) NOT NULL,
    created_at DATETIME NOT NULL,
    disabled_reason VARCHAR(500),
    disabled_by VARCHAR(10),{origin}
    CONSTRAINT pk_models PRIMARY KEY (id),
    CONSTRAINT ck_models_modality CHECK (modality IN ('text', 'image', '3d')),
    CONSTRAINT ck_models_status CHECK ({status}),
    CONSTRAINT ck_models_disabled_by CHECK (disabled_by IN ('operator', 'health', 'trust', 'file')),
    CONSTRAINT uq_models_name UNIQUE (name){origin_check}
)"""


def _rebuild_sqlite_models(status: str, with_origin: bool) -> None:
    op.execute(_models_table(status, with_origin))
    op.execute(f"INSERT INTO _models_new ({MODEL_COLUMNS}) SELECT {MODEL_COLUMNS} FROM models")
    op.execute("DROP TABLE models")
    op.execute("ALTER TABLE _models_new RENAME TO models")


def upgrade() -> None:
    for name, length in DEMOGRAPHICS:
        op.add_column("votes", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column("battles", sa.Column("language", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_models(STATUS, with_origin=True)
        return
    op.add_column("models", sa.Column("origin", sa.String(length=10), nullable=False, server_default="file"))
    op.create_check_constraint(op.f("ck_models_origin"), "models", ORIGIN)
    op.drop_constraint(op.f("ck_models_status"), "models", type_="check")
    op.create_check_constraint(op.f("ck_models_status"), "models", STATUS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE models SET status = 'disabled' WHERE status IN ('probing', 'rejected', 'retired')")
        _rebuild_sqlite_models(OLD_STATUS, with_origin=False)
        with op.batch_alter_table("battles") as batch:
            batch.drop_column("language")
        with op.batch_alter_table("votes") as batch:
            for name, _ in DEMOGRAPHICS:
                batch.drop_column(name)
        return
    op.execute("UPDATE models SET status = 'disabled' WHERE status IN ('probing', 'rejected', 'retired')")
    op.drop_constraint(op.f("ck_models_status"), "models", type_="check")
    op.create_check_constraint(op.f("ck_models_status"), "models", OLD_STATUS)
    op.drop_constraint(op.f("ck_models_origin"), "models", type_="check")
    op.drop_column("models", "origin")
    op.drop_column("battles", "language")
    for name, _ in DEMOGRAPHICS:
        op.drop_column("votes", name)
