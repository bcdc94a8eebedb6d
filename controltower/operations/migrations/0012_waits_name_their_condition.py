"""Open exceptions that wait on a state (an active project, a lifted hold) say so in their key.

They used to wait on ``project:<code>`` or ``customer:<number>``, which the recheck sweep
takes as "the record is there": it resolved them, their work blocked again, and so on.
"""

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Substr

RENAMES = [
    # (exception type, old prefix, new prefix)
    ("project_not_active", "project:", "project_active:"),
    ("billing_hold", "project:", "project_hold:"),
    ("billing_hold", "customer:", "customer_hold:"),
    ("missing_rate_card", "project:", "project_rates:"),
]


def rename(apps, schema_editor):
    BusinessException = apps.get_model("controltower", "BusinessException")
    for exception_type, old, new in RENAMES:
        BusinessException.objects.filter(
            exception_type=exception_type,
            waiting_on__startswith=old,
            status__in=["open", "in_progress"],
        ).update(waiting_on=Concat(Value(new), Substr("waiting_on", len(old) + 1)))


class Migration(migrations.Migration):
    dependencies = [("controltower", "0011_exceptions_by_money")]

    operations = [migrations.RunPython(rename, migrations.RunPython.noop)]
