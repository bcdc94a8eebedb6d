from django.db import migrations

# The six flows are the engine's own; their rows hold what an admin may tune.
FLOWS = [
    ("contract_to_project", "Contract to project", 4 * 3600),
    ("project_to_staffing", "Project to staffing", 8 * 3600),
    ("time_to_billing", "Time to billing", 24 * 3600),
    ("amendment_propagation", "Amendment propagation", 8 * 3600),
    ("master_data_sync", "Master-data sync", 3600),
    ("reconciliation", "Reconciliation", 24 * 3600),
]


def create_flows(apps, schema_editor):
    Flow = apps.get_model("integrations", "Flow")
    for kind, name, sla in FLOWS:
        Flow.objects.get_or_create(kind=kind, defaults={"name": name, "sla_seconds": sla})


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [migrations.RunPython(create_flows, migrations.RunPython.noop)]
