from datetime import UTC

from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import TruncHour, TruncMinute

STOPS = ("dead", "blocked")
SPANS = ((3600, TruncHour), (60, TruncMinute))


def count_recoveries(apps, schema_editor):
    """Fills ``recovered`` for the buckets already kept, from the attempts."""
    Attempt = apps.get_model("integrations", "Attempt")
    FlowRollup = apps.get_model("integrations", "FlowRollup")
    earliest = FlowRollup.objects.order_by("bucket").values_list("bucket", flat=True).first()
    if earliest is None:
        return
    earlier_stops = (
        Attempt.objects.filter(
            transaction_id=OuterRef("transaction_id"),
            number__lt=OuterRef("number"),
            outcome__in=STOPS,
        )
        .values("transaction_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    for span, trunc in SPANS:
        rows = (
            Attempt.objects.filter(
                started_at__gte=earliest,
                outcome="succeeded",
                number__gt=1,
                transaction__flow__isnull=False,
            )
            .annotate(bucket=trunc("started_at", tzinfo=UTC), stops=Subquery(earlier_stops))
            .filter(stops__gt=0)
            .values_list("transaction__flow_id", "bucket")
            .annotate(n=Sum("stops"))
            .order_by()
        )
        for flow_id, bucket, n in rows:
            FlowRollup.objects.filter(flow_id=flow_id, span=span, bucket=bucket).update(recovered=n)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0008_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowrollup",
            name="recovered",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Earlier stops (dead or blocked) of transactions that succeeded here "
                "after a re-run: they no longer stand.",
            ),
        ),
        migrations.RunPython(count_recoveries, migrations.RunPython.noop),
    ]
