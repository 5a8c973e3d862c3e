"""Every service table in a hash chain of its own; the checkpoints of what a check found.

The service tables were not chained before this revision, so nothing can prove what they held
then: their chains start here, with the rows as this migration finds them, chained in the order
they were written (by time, then id). From here on an edit, insertion or deletion of any row is
caught by `credo verify`. The ledger's chain (records, corrections, rulebook versions) is kept
as it was: every hash written before stays valid.

Revision ID: 0004_chain_all
Revises: 0006_keys
"""

import sqlalchemy as sa
from alembic import op

from credo.ledger.chain import GENESIS, link_exact

revision = "0004_chain_all"
down_revision = "0006_keys"
branch_labels = None
depends_on = None

# table: (the kind hashed, the fields hashed in order, the order rows were written, the key)
CHAINS = {
    "api_keys": ("key", ("key_hash", "role", "source", "actions", "subject", "created_us", "expires_us"),
                 ("created_us", "key_hash"), ("key_hash",)),
    "key_revocations": ("key revocation", ("key_hash", "revoked_us", "reason", "actor"), ("revoked_us", "key_hash"),
                        ("key_hash",)),
    "decisions": ("decision", ("id", "subject", "action", "at_us", "decided_us", "rulebook_position",
                               "ledger_position", "answer"), ("decided_us", "id"), ("id",)),
    "appeals": ("appeal", ("id", "record_position", "subject", "statement", "filed_us", "deadline_us",
                           "while_pending"), ("filed_us", "id"), ("id",)),
    "appeal_events": ("appeal event", ("appeal_id", "event", "reason", "actor", "at_us"),
                      ("at_us", "appeal_id", "event"), ("appeal_id", "event")),
    "notices": ("notice", ("id", "subject", "kind", "created_us", "body"), ("created_us", "id"), ("id",)),
    "sweeps": ("sweep", ("at_us",), ("at_us",), ("at_us",)),
}  # fmt: skip


def upgrade() -> None:
    connection = op.get_bind()
    for name, (kind, fields, order, key) in CHAINS.items():
        op.add_column(name, sa.Column("seq", sa.BigInteger))
        op.add_column(name, sa.Column("hash", sa.String(64)))
        op.create_index(f"{name}_seq", name, ["seq"], unique=True)
        table = sa.table(name, *(sa.column(column) for column in {*fields, *key, "seq", "hash"}))
        rows = connection.execute(
            sa.select(*(table.c[column] for column in fields)).order_by(*(table.c[column] for column in order))
        ).all()
        previous, updates = GENESIS, []
        for seq, row in enumerate(rows, 1):
            values = dict(zip(fields, row, strict=True))
            previous = link_exact(previous, kind, [values[column] for column in fields])
            updates.append({"seq": seq, "hash": previous, **{f"key_{column}": values[column] for column in key}})
        if updates:
            statement = (
                table.update()
                .where(*(table.c[column] == sa.bindparam(f"key_{column}") for column in key))
                .values(seq=sa.bindparam("seq"), hash=sa.bindparam("hash"))
            )
            connection.execute(statement, updates)
    op.create_table(
        "checkpoints",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("verified_us", sa.BigInteger, nullable=False),
        sa.Column("whole", sa.Boolean, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("heads", sa.Text, nullable=False),
        sa.Column("problem", sa.Text),
    )
    op.create_index("checkpoints_head", "checkpoints", ["head"])


def downgrade() -> None:
    raise NotImplementedError("the ledger is append-only: credo never drops it")
