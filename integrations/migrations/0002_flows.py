from django.db import migrations

from integrations.flows.catalog import flows_ensure


def create_flows(apps, schema_editor):
    flows_ensure(apps.get_model("integrations", "Flow"))


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [migrations.RunPython(create_flows, migrations.RunPython.noop)]
