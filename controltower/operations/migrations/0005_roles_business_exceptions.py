from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0004_businessexception"),
        ("integrations", "0003_transaction_exception"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
