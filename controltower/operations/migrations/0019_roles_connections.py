from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0018_authentication_failed_code"),
        ("integrations", "0017_outbound_authentication"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
