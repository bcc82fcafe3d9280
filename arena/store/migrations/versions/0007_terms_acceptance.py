"""When a voter accepted the page's terms and privacy notice (once, before the first battle).

- `voters.terms_accepted_at`: NULL until the voter accepts; the page asks again while it is.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.add_column(sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.drop_column("terms_accepted_at")
