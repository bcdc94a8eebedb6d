from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0035_user_preference"),
        ("integrations", "0035_subscriptions_outbox"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
