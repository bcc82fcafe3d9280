"""Vote counts per board slice, so boards refit from a small table instead of every vote.

- `vote_counts`: per board slice (modality, dimension, and group_field/group_value: ''/''
  for all voters, else a prompt category or language or one field of the vote's
  demographic snapshot) one row per (model_a, model_b, winner, anonymous, valid,
  invalid_reason) with `votes` and `weight` (the sum of 1 / battles.pair_probability, 1
  where unknown). A vote counts in its main slice and in one slice per group field it has
  a value for. Key columns are NOT NULL ('' for none) so an upsert can find its row.
- Backfilled from the votes already stored, in the same transaction (INSERT ... SELECT
  ... GROUP BY per slice kind). The rule is spelled out here, not imported, because a
  migration must keep meaning what it meant.

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
    ("group_field", sa.String(length=16)),
    ("group_value", sa.String(length=64)),
    ("model_a", sa.String(length=100)),
    ("model_b", sa.String(length=100)),
    ("winner", sa.String(length=8)),
    ("anonymous", sa.Boolean()),
    ("valid", sa.Boolean()),
    ("invalid_reason", sa.String(length=64)),
)
# group field -> where its value lives (the prompt's category and language, the vote's profile snapshot)
GROUPS = (
    ("category", "b.category"),
    ("age_band", "v.age_band"),
    ("gender", "v.gender"),
    ("country", "v.country"),
    ("first_language", "v.first_language"),
    ("expertise", "v.expertise"),
    ("language", "b.language"),
)
REST = "b.model_a, b.model_b, v.winner, v.anonymous, v.valid, COALESCE(v.invalid_reason, '')"
WEIGHT = "SUM(CASE WHEN b.pair_probability > 0 THEN 1.0 / b.pair_probability ELSE 1.0 END)"


def _slice(field: str, value: str | None) -> str:
    shown = f"'{field}', {value}" if value else "'', ''"
    where = f"WHERE {value} IS NOT NULL" if value else ""
    grouped = f"b.modality, v.dimension, {value + ', ' if value else ''}{REST}"
    return (
        f"SELECT b.modality, v.dimension, {shown}, {REST}, COUNT(*), {WEIGHT} "
        f"FROM votes v JOIN battles b ON b.id = v.battle_id {where} GROUP BY {grouped}"
    )


BACKFILL = f"INSERT INTO vote_counts ({', '.join(name for name, _ in KEY)}, votes, weight) " + " UNION ALL ".join(
    [_slice("", None), *(_slice(field, value) for field, value in GROUPS)]
)


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
