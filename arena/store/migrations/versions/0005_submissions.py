"""Model authors' submissions, and what a model card and health checks need.

- `submissions`: an author's endpoint (URL, remote model id, the API key as Fernet
  ciphertext), the SHA-256 of the author's token, the latest probe and recent errors.
  The model's state stays in `models.status`.
- `models.description`, `models.url`: shown on the model's card.
- `models.failures`: consecutive failed battles and health checks.

Plain ADD COLUMNs and a new table: no rebuild on SQLite.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("models", sa.Column("url", sa.String(length=500), nullable=True))
    op.add_column("models", sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.String(length=254), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("remote_model", sa.String(length=200), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=True),
        sa.Column("probe", sa.JSON(), nullable=True),
        sa.Column("probed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_name"], ["models.name"], name=op.f("fk_submissions_model_name_models")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("model_name", name=op.f("uq_submissions_model_name")),
    )
    op.create_index("ix_submissions_author", "submissions", ["author"])
    op.create_index("ix_submissions_ip_hash", "submissions", ["ip_hash"])


def downgrade() -> None:
    op.drop_index("ix_submissions_ip_hash", table_name="submissions")
    op.drop_index("ix_submissions_author", table_name="submissions")
    op.drop_table("submissions")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("failures")
        batch.drop_column("url")
        batch.drop_column("description")
