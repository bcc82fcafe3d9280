"""Trust: flagged voters, the admin audit log, and who disabled a model and why.

- `voter_flags`: one row per voter the detector flagged or an operator banned: score,
  reasons, evidence, state (flagged, quarantined, released, banned), votes affected,
  and the operator's decision.
- `admin_actions`: every admin action (and every quarantine by the detector): who,
  what, on what, when, with details.
- `models.disabled_reason` and `models.disabled_by` (operator, health, trust, file).

Plain CREATE TABLE and ADD COLUMN on both databases (no table copies). The allowed
values are spelled out here (not imported) because a migration must keep meaning
what it meant.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


FLAG_STATES = "state IN ('flagged', 'quarantined', 'released', 'banned')"
DISABLED_BY = "disabled_by IN ('operator', 'health', 'trust', 'file')"


def upgrade() -> None:
    op.create_table(
        "voter_flags",
        sa.Column("voter_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("votes_affected", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(FLAG_STATES, name=op.f("ck_voter_flags_state")),
        sa.ForeignKeyConstraint(["voter_id"], ["voters.id"], name=op.f("fk_voter_flags_voter_id_voters")),
        sa.PrimaryKeyConstraint("voter_id", name=op.f("pk_voter_flags")),
    )
    op.create_index("ix_voter_flags_state", "voter_flags", ["state"])
    op.create_table(
        "admin_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_actions")),
    )
    op.create_index("ix_admin_actions_at", "admin_actions", ["at"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE models ADD COLUMN disabled_reason VARCHAR(500)")
        op.execute(
            f"ALTER TABLE models ADD COLUMN disabled_by VARCHAR(10) "
            f"CONSTRAINT ck_models_disabled_by CHECK ({DISABLED_BY})"
        )
        return
    op.add_column("models", sa.Column("disabled_reason", sa.String(length=500), nullable=True))
    op.add_column("models", sa.Column("disabled_by", sa.String(length=10), nullable=True))
    op.create_check_constraint(op.f("ck_models_disabled_by"), "models", DISABLED_BY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite cannot drop a column a CHECK names: copy the table
        with op.batch_alter_table("models", recreate="always") as batch:
            batch.drop_constraint(op.f("ck_models_disabled_by"), type_="check")
            batch.drop_column("disabled_by")
            batch.drop_column("disabled_reason")
    else:
        op.drop_constraint(op.f("ck_models_disabled_by"), "models", type_="check")
        op.drop_column("models", "disabled_by")
        op.drop_column("models", "disabled_reason")
    op.drop_index("ix_admin_actions_at", table_name="admin_actions")
    op.drop_table("admin_actions")
    op.drop_index("ix_voter_flags_state", table_name="voter_flags")
    op.drop_table("voter_flags")
