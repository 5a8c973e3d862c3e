"""The outbox: what each write makes owed (notices), recorded in the write's transaction, and the
deliveries of it.

Revision ID: 0005_outbox
Revises: 0004_chain_all
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox"
down_revision = "0004_chain_all"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("head_before", sa.BigInteger, nullable=False),
        sa.Column("head_after", sa.BigInteger, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
    )
    op.create_table(
        "outbox_delivered",
        sa.Column("outbox_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("delivered_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
