"""Trigram indexes for the searches by part of a key (PostgreSQL only, when pg_trgm is there).

``icontains`` is ``UPPER(col::text) LIKE UPPER('%...%')`` on PostgreSQL: a b-tree cannot
serve it and the search reads every row; a GIN trigram index on that same expression can.
``CREATE EXTENSION pg_trgm`` needs a role allowed to create it (a superuser, or the
database's owner on PostgreSQL 13+ where pg_trgm is trusted). Where it cannot, the
migration says so and goes on without the indexes: the searches still work, only by
reading every row. Running ``CREATE EXTENSION pg_trgm`` later and migrating this back and
forth (``migrate integrations 0032`` then ``migrate``) adds them. SQLite has no trigram
index: nothing is done there.
"""

from django.db import DatabaseError, migrations, transaction

# (index name, table, column): what the transaction and exception searches match by part.
INDEXES = (
    ("tx_business_key_trgm", "integrations_transaction", "business_key"),
    ("tx_correlation_trgm", "integrations_transaction", "correlation_id"),
    ("exc_business_key_trgm", "integrations_exceptionrecord", "business_key"),
    ("exc_message_trgm", "integrations_exceptionrecord", "message"),
)


def trigram_indexes_create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        print(
            f"\n  pg_trgm could not be created ({str(error).strip()}); searches by part of a "
            "key work without their trigram indexes, reading every row."
        )
        return
    with connection.cursor() as cursor:
        for name, table, column in INDEXES:
            cursor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )


def trigram_indexes_drop(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, _, _ in INDEXES:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0035_subscriptions_outbox"),
    ]

    operations = [migrations.RunPython(trigram_indexes_create, trigram_indexes_drop)]
