"""Appeals, what happened to them, and notices to subjects.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("record_position", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("filed_us", sa.BigInteger, nullable=False),
        sa.Column("deadline_us", sa.BigInteger, nullable=False),
        sa.Column("while_pending", sa.String(8), nullable=False),
    )
    op.create_index("appeals_subject", "appeals", ["subject"])
    op.create_table(
        "appeal_events",
        sa.Column("appeal_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("appeal_id", "event"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("notices_subject", "notices", ["subject"])
    op.create_table(
        "sweeps",
        sa.Column("at_us", sa.BigInteger, primary_key=True),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
