from django.db import migrations

from controltower.operations.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0002_audit_append_only"),
        ("canonical", "0001_initial"),
        ("integrations", "0002_flows"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
