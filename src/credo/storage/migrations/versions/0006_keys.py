"""Keys that expire, and revocations as entries of their own (keys stay append-only).

Revision ID: 0006_keys
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_keys"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_us", sa.BigInteger, nullable=True))
    op.create_table(
        "key_revocations",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("revoked_us", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
