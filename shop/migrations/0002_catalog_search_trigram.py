"""Trigram indexes for catalog search (搜一搜).

Search is a case-insensitive substring match (`icontains`, which Django writes as
UPPER(column) LIKE UPPER('%query%')), because Chinese has no spaces to split words on. pg_trgm GIN
indexes on the same UPPER(column) expressions let PostgreSQL answer those LIKEs from the index. On
SQLite (the zero-setup local demo) there is no pg_trgm, so these steps do nothing there.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

COLUMNS = ["title", "subtitle", "description"]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS shop_product_{column}_trgm "
            f"ON shop_product USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS shop_product_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
