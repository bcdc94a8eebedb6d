from django.db import migrations

# The audit log is append-only in the database itself, not only in the app. PostgreSQL
# refuses row updates and deletes (TRUNCATE, an operator's whole-database reset, still
# works). SQLite, the embedded default, refuses updates; it has no TRUNCATE, so a row
# DELETE trigger would also stop resetting a database, and the app refuses deletes.
SQLITE = [
    """CREATE TRIGGER controltower_auditevent_no_update BEFORE UPDATE ON controltower_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS controltower_auditevent_no_update"]
POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION controltower_auditevent_refuse() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER controltower_auditevent_no_change BEFORE UPDATE OR DELETE
       ON controltower_auditevent FOR EACH ROW EXECUTE FUNCTION controltower_auditevent_refuse()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS controltower_auditevent_no_change ON controltower_auditevent",
    "DROP FUNCTION IF EXISTS controltower_auditevent_refuse()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("controltower", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]
