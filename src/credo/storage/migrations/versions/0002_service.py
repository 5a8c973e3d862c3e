"""The service: API keys (hashes only) and the decision log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("actions", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("decided_us", sa.BigInteger, nullable=False),
        sa.Column("rulebook_position", sa.BigInteger, nullable=False),
        sa.Column("ledger_position", sa.BigInteger, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
    )
    op.create_index("decisions_subject", "decisions", ["subject"])


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
