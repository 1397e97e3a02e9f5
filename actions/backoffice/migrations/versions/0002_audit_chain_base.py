"""audit chain base: where the verified chain starts once old records are deleted

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("first_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, server_default="1"))
        batch.add_column(sa.Column("base_hash", sa.String(length=64), nullable=False, server_default="0" * 64))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("base_hash")
        batch.drop_column("first_seq")
