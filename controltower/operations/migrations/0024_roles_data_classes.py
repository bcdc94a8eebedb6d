from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0023_api_tokens"),
        ("canonical", "0007_roles_data_classes"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
