"""appeals linked to the visit or contact they were raised from; soft delete and
row versions for appeals, visits and contact records

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 20:38:58.321125

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appeal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contact_record_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('deleted_by_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_appeal_contact_record_id', ['contact_record_id'], unique=False)
        batch_op.create_index('ix_appeal_deleted_at', ['deleted_at'], unique=False)
        batch_op.create_index('ix_appeal_visit_id', ['visit_id'], unique=False)
        batch_op.create_foreign_key('fk_appeal_contact_record_id', 'contact_record', ['contact_record_id'], ['id'])
        batch_op.create_foreign_key('fk_appeal_visit_id', 'visit', ['visit_id'], ['id'])
        batch_op.create_foreign_key('fk_appeal_deleted_by_id', 'ab_user', ['deleted_by_id'], ['id'], ondelete='SET NULL')
        # the untyped source link (type + id, no foreign key) gives way to the two keys above
        batch_op.drop_column('source_id')
        batch_op.drop_column('source_type')

    for table in ('contact_record', 'visit'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
            batch_op.add_column(sa.Column('deleted_by_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
            batch_op.create_index(f'ix_{table}_deleted_at', ['deleted_at'], unique=False)
            batch_op.create_foreign_key(
                f'fk_{table}_deleted_by_id', 'ab_user', ['deleted_by_id'], ['id'], ondelete='SET NULL'
            )


def downgrade():
    for table in ('visit', 'contact_record'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_deleted_by_id', type_='foreignkey')
            batch_op.drop_index(f'ix_{table}_deleted_at')
            batch_op.drop_column('version')
            batch_op.drop_column('deleted_by_id')
            batch_op.drop_column('deleted_at')

    with op.batch_alter_table('appeal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_type', sa.VARCHAR(length=20), nullable=True))
        batch_op.add_column(sa.Column('source_id', sa.INTEGER(), nullable=True))
        batch_op.drop_constraint('fk_appeal_deleted_by_id', type_='foreignkey')
        batch_op.drop_constraint('fk_appeal_visit_id', type_='foreignkey')
        batch_op.drop_constraint('fk_appeal_contact_record_id', type_='foreignkey')
        batch_op.drop_index('ix_appeal_visit_id')
        batch_op.drop_index('ix_appeal_deleted_at')
        batch_op.drop_index('ix_appeal_contact_record_id')
        batch_op.drop_column('deleted_by_id')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('contact_record_id')
        batch_op.drop_column('visit_id')
