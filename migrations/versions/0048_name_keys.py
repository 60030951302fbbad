"""appeal: the reporter's name pairs keyed by grid block, so a leader's 2-character name search
reads only the matches near their jurisdiction

PostgreSQL only. `minqing_name_keys(name, grid_id)` gives, for each distinct character pair of the
name (lower case), the pair alone and the pair with the block of 2**6 and of 2**11 grid ids the
appeal's grid lies in ('张伟', '张伟|6|312', '张伟|11|9'). A search asks for the blocks that cover
the user's grids (app.services.search `name_keys`), so the GIN index returns the matches of the
jurisdiction and a few neighbours instead of every match in the city (a county leader of a city:
20,000 candidates read from the table for 2,000 matches). The pair alone serves the Admin and any
query without a scope: this index replaces ix_appeal_reporter_name_pairs (migration 0040).
The block sizes are part of the keys: app.services.search.BLOCK_SHIFTS must match.

Revision ID: 0048_name_keys
Revises: 0047_contact_tally
"""

from alembic import op

revision = "0048_name_keys"
down_revision = "0047_contact_tally"
branch_labels = None
depends_on = None

NAME_KEYS = """
CREATE OR REPLACE FUNCTION minqing_name_keys(value text, grid integer) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(k), '{}'::text[])
  FROM (SELECT DISTINCT lower(substr(value, i, 2)) AS p FROM generate_series(1, char_length(value) - 1) AS i) AS pairs
  CROSS JOIN LATERAL (VALUES (p), (p || '|6|' || (grid >> 6)), (p || '|11|' || (grid >> 11))) AS keys(k)
$$
"""
STATISTICS = "ALTER INDEX ix_appeal_reporter_name_keys ALTER COLUMN 1 SET STATISTICS 1000"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(NAME_KEYS)
    op.execute("CREATE INDEX ix_appeal_reporter_name_keys ON appeal USING gin (minqing_name_keys(reporter_name, grid_id))")
    op.execute("DROP INDEX IF EXISTS ix_appeal_reporter_name_pairs")
    # a larger sample of the keys, or the planner ANDs a county's whole grid range in (search.py)
    op.execute(STATISTICS)
    op.execute("ANALYZE appeal")  # the statistics of the new expression (a sample: ~18 s at 10M appeals)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_appeal_reporter_name_pairs ON appeal USING gin (minqing_bigrams(reporter_name))")
    op.execute("DROP INDEX IF EXISTS ix_appeal_reporter_name_keys")
    op.execute("DROP FUNCTION IF EXISTS minqing_name_keys(text, integer)")
