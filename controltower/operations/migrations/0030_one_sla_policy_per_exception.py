"""Each exception is judged by one SLA policy, fixed when it is raised.

Policies that exist now judge what was raised before them (their ``created_at`` is set
far back); each open exception gets the most specific of the active exception policies
that match it, as ``services.sla.exception_sla_judge`` picks: type over flow over
severity, the shorter target on a tie, then the older policy. Its due time stays as it was.
"""

import datetime

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

BEFORE_ANY = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
OPEN = ("open", "in_progress")  # integrations.choices.OPEN_STATUSES


def judge_open_exceptions(apps, schema_editor):
    SlaPolicy = apps.get_model("controltower", "SlaPolicy")
    BusinessException = apps.get_model("controltower", "BusinessException")
    policies = list(SlaPolicy.objects.filter(active=True, kind="exception"))
    if not policies:
        return

    def specificity(policy):
        weight = 4 * bool(policy.exception_type) + 2 * bool(policy.flow) + bool(policy.severity)
        return (-weight, policy.target_minutes, policy.pk)

    for exc in BusinessException.objects.filter(status__in=OPEN, sla_policy__isnull=True).iterator():
        matching = [
            p
            for p in policies
            if (not p.exception_type or p.exception_type == exc.exception_type)
            and (not p.flow or p.flow == exc.flow)
            and (not p.severity or p.severity == exc.severity)
        ]
        if matching:
            BusinessException.objects.filter(pk=exc.pk).update(
                sla_policy=min(matching, key=specificity)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("controltower", "0029_invoice_terms_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="slapolicy",
            name="created_at",
            field=models.DateTimeField(
                default=BEFORE_ANY,
                editable=False,
                help_text="It judges exceptions raised from then on.",
            ),
        ),
        migrations.AlterField(
            model_name="slapolicy",
            name="created_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                editable=False,
                help_text="It judges exceptions raised from then on.",
            ),
        ),
        migrations.AddField(
            model_name="businessexception",
            name="sla_policy",
            field=models.ForeignKey(
                blank=True,
                help_text="The one policy that times it: the most specific when it was raised.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="judged_exceptions",
                to="controltower.slapolicy",
            ),
        ),
        migrations.RunPython(judge_open_exceptions, migrations.RunPython.noop),
    ]
