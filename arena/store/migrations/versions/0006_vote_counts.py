"""Vote counts per board slice, so boards refit from a small table instead of every vote.

- `vote_counts`: one row per (modality, dimension, model_a, model_b, winner, anonymous,
  valid, invalid_reason, category, language, age_band, gender, country, first_language,
  expertise) with `votes` and `weight` (the sum of 1 / battles.pair_probability, 1 where
  unknown). Key columns are NOT NULL ('' for no value) so an upsert can find its row.
- Backfilled from the votes already stored, in the same transaction (one INSERT ... SELECT
  ... GROUP BY). The rule is spelled out here, not imported, because a migration must keep
  meaning what it meant.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KEY = (
    ("modality", sa.String(length=8)),
    ("dimension", sa.String(length=16)),
    ("model_a", sa.String(length=100)),
    ("model_b", sa.String(length=100)),
    ("winner", sa.String(length=8)),
    ("anonymous", sa.Boolean()),
    ("valid", sa.Boolean()),
    ("invalid_reason", sa.String(length=64)),
    ("category", sa.String(length=32)),
    ("language", sa.String(length=16)),
    ("age_band", sa.String(length=16)),
    ("gender", sa.String(length=32)),
    ("country", sa.String(length=2)),
    ("first_language", sa.String(length=16)),
    ("expertise", sa.String(length=32)),
)

BACKFILL = f"""
INSERT INTO vote_counts ({", ".join(name for name, _ in KEY)}, votes, weight)
SELECT b.modality, v.dimension, b.model_a, b.model_b, v.winner, v.anonymous, v.valid,
       COALESCE(v.invalid_reason, ''), COALESCE(b.category, ''), COALESCE(b.language, ''),
       COALESCE(v.age_band, ''), COALESCE(v.gender, ''), COALESCE(v.country, ''),
       COALESCE(v.first_language, ''), COALESCE(v.expertise, ''),
       COUNT(*), SUM(CASE WHEN b.pair_probability > 0 THEN 1.0 / b.pair_probability ELSE 1.0 END)
FROM votes v JOIN battles b ON b.id = v.battle_id
GROUP BY {", ".join(str(i) for i in range(1, len(KEY) + 1))}
"""


def upgrade() -> None:
    op.create_table(
        "vote_counts",
        *(sa.Column(name, type_, nullable=False) for name, type_ in KEY),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*(name for name, _ in KEY), name=op.f("pk_vote_counts")),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("vote_counts")
