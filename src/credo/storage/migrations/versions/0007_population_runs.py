"""Population runs: the counts a run found, kept for the pages.

Revision ID: 0007_population_runs
Revises: 0005_outbox
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_population_runs"
down_revision = "0005_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "population_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("computed_us", sa.BigInteger, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("ledger_position", sa.BigInteger, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_index("population_runs_computed", "population_runs", ["computed_us"])


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
