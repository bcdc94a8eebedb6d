"""No search matches part of a transaction's correlation id any more (the header search
finds one whole, through its b-tree index): its trigram index only cost every write of the
busiest table, and goes. PostgreSQL only; migrating back makes it again where pg_trgm is."""

from django.db import migrations

NAME, TABLE, COLUMN = "tx_correlation_trgm", "integrations_transaction", "correlation_id"


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
        cursor.execute(
            f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "{TABLE}" '
            f'USING gin ((UPPER("{COLUMN}"::text)) gin_trgm_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0039_transaction_schema_version"),
    ]

    operations = [migrations.RunPython(index_drop, index_create)]
