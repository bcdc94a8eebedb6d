from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0005_roles_business_exceptions"),
        ("canonical", "0002_invoice_approval_permission"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
