from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def source_versions_from_last_events(apps, schema_editor):
    """A state last written by an event its system sent takes that event's version."""
    SyncState = apps.get_model("integrations", "SyncState")
    Transaction = apps.get_model("integrations", "Transaction")
    event_version = Transaction.objects.filter(
        pk=OuterRef("last_transaction_id"), source_system_id=OuterRef("system_id")
    ).values("event_version")[:1]
    SyncState.objects.filter(last_transaction__isnull=False).update(
        source_version=Subquery(event_version)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0009_rollup_recovered"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncstate",
            name="source_version",
            field=models.PositiveBigIntegerField(
                blank=True,
                help_text="The system's own version of the record in the last event it sent: "
                "its next event is judged against this, not against the canonical versions the "
                "tower pushes.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="syncstate",
            name="last_version",
            field=models.PositiveBigIntegerField(
                blank=True, help_text="The canonical version the system holds.", null=True
            ),
        ),
        migrations.RunPython(source_versions_from_last_events, migrations.RunPython.noop),
    ]
