"""Files being ingested in several transactions: their records stay invisible until the last.

Revision ID: 0008_pending_files
Revises: 0007_population_runs
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_pending_files"
down_revision = "0007_population_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_files",
        sa.Column("first_position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("started_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
