from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0024_roles_data_classes"),
        ("integrations", "0023_pollers"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
