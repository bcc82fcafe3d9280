"""The counts table keeps the sum of squared inverse-propensity weights too.

- `vote_counts.weight2`: per row the sum of 1 / battles.pair_probability² (1 where the
  probability is unknown), next to `weight` (the sum of 1 / pair_probability). With both, an
  inverse-propensity board gives the fit each cell as a Kish row (count (Σw)²/Σw², weight
  Σw²/Σw), whose sandwich variance is the one of the votes' own weights; the mean weight
  alone understates it whenever a pair's probability changed between votes.
- Filled by rewriting the table from the votes, in the same transaction (the table is kept
  equal to these GROUP BYs, so this is what it held, plus the new column). The rule is
  spelled out here, not imported, because a migration must keep meaning what it meant.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = (
    "modality",
    "dimension",
    "group_field",
    "group_value",
    "model_a",
    "model_b",
    "winner",
    "anonymous",
    "valid",
    "invalid_reason",
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
WEIGHT2 = "SUM(CASE WHEN b.pair_probability > 0 THEN 1.0 / (b.pair_probability * b.pair_probability) ELSE 1.0 END)"


def _slice(field: str, value: str | None) -> str:
    shown = f"'{field}', {value}" if value else "'', ''"
    where = f"WHERE {value} IS NOT NULL" if value else ""
    grouped = f"b.modality, v.dimension, {value + ', ' if value else ''}{REST}"
    return (
        f"SELECT b.modality, v.dimension, {shown}, {REST}, COUNT(*), {WEIGHT}, {WEIGHT2} "
        f"FROM votes v JOIN battles b ON b.id = v.battle_id {where} GROUP BY {grouped}"
    )


REFILL = f"INSERT INTO vote_counts ({', '.join(KEY)}, votes, weight, weight2) " + " UNION ALL ".join(
    [_slice("", None), *(_slice(field, value) for field, value in GROUPS)]
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE vote_counts IN EXCLUSIVE MODE")
    op.execute("DELETE FROM vote_counts")
    with op.batch_alter_table("vote_counts") as batch:
        batch.add_column(sa.Column("weight2", sa.Float(), nullable=True))
    op.execute(REFILL)
    with op.batch_alter_table("vote_counts") as batch:
        batch.alter_column("weight2", existing_type=sa.Float(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("vote_counts") as batch:
        batch.drop_column("weight2")
