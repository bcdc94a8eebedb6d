from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0016_exception_codes"),
        ("integrations", "0016_calling_other_systems"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
