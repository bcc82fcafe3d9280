"""Every vote records its source: live, simulate, import or bulk.

Only live votes meet vote-time checks, and dumps say where each vote came from.
Votes stored before this revision are marked live. The allowed values are spelled
out here (not imported) because a migration must keep meaning what it meant.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


VALUES = "source IN ('live', 'simulate', 'import', 'bulk')"


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: O(1) on a table of millions of votes, where
    # SQLite's batch mode would copy the whole table.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE votes ADD COLUMN source VARCHAR(10) DEFAULT 'live' NOT NULL "
            f"CONSTRAINT ck_votes_source CHECK ({VALUES})"
        )
        return
    op.add_column("votes", sa.Column("source", sa.String(length=10), nullable=False, server_default="live"))
    op.create_check_constraint(op.f("ck_votes_source"), "votes", VALUES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite cannot drop a column a CHECK names: copy the table
        with op.batch_alter_table("votes", recreate="always") as batch:
            batch.drop_constraint("ck_votes_source", type_="check")
            batch.drop_column("source")
        return
    op.drop_constraint(op.f("ck_votes_source"), "votes", type_="check")
    op.drop_column("votes", "source")
