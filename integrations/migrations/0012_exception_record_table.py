# See integrations 0011 for the steps of the move.

from django.db import migrations

STASH = "controltower_exception_ownership_stash"
COLUMNS = ("team_id", "assignee_id", "snoozed_until", "sla_due_at")


def ownership_stash(apps, schema_editor):
    """Sets the columns the operations layer's extension will hold aside, by exception id."""
    quote = schema_editor.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    schema_editor.execute(
        f"CREATE TABLE {quote(STASH)} AS SELECT {quote('id')}, {columns} "
        f"FROM {quote('integrations_exceptionrecord')}"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('controltower', '0014_exceptions_recorded_by_the_engine'),
        ('integrations', '0011_exception_record_takes_the_table'),
    ]

    operations = [
        migrations.AlterModelTable(name='exceptionrecord', table=None),
        migrations.RunPython(ownership_stash),
        migrations.RemoveIndex(model_name='exceptionrecord', name='bex_team_status_money'),
        migrations.RemoveIndex(model_name='exceptionrecord', name='bex_assignee_status'),
        migrations.RemoveField(model_name='exceptionrecord', name='team'),
        migrations.RemoveField(model_name='exceptionrecord', name='assignee'),
        migrations.RemoveField(model_name='exceptionrecord', name='snoozed_until'),
        migrations.RemoveField(model_name='exceptionrecord', name='sla_due_at'),
    ]
