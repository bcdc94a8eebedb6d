# See integrations 0011 for the steps of the move.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

STASH = "controltower_exception_ownership_stash"
COLUMNS = ("team_id", "assignee_id", "snoozed_until", "sla_due_at")


def ownership_restore(apps, schema_editor):
    """Each recorded exception gets its extension, with the team, assignee, snooze and due
    time its old row held."""
    quote = schema_editor.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    schema_editor.execute(
        f"INSERT INTO {quote('controltower_businessexception')} "
        f"({quote('exceptionrecord_ptr_id')}, {columns}) "
        f"SELECT {quote('id')}, {columns} FROM {quote(STASH)}"
    )
    schema_editor.execute(f"DROP TABLE {quote(STASH)}")


class Migration(migrations.Migration):

    dependencies = [
        ('controltower', '0014_exceptions_recorded_by_the_engine'),
        ('integrations', '0012_exception_record_table'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='BusinessException',
            fields=[
                ('exceptionrecord_ptr', models.OneToOneField(auto_created=True, on_delete=django.db.models.deletion.CASCADE, parent_link=True, primary_key=True, serialize=False, to='integrations.exceptionrecord')),
                ('snoozed_until', models.DateTimeField(blank=True, help_text='Held out of the queue until then; not lost.', null=True)),
                ('sla_due_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='assigned_exceptions', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(blank=True, help_text='The owning team, from the ownership rules.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='exceptions', to='controltower.team')),
            ],
            options={
                'ordering': ['-money_at_risk', '-created_at'],
                'permissions': [('work_businessexception', 'Can assign, comment on, snooze, resolve and dismiss'), ('approve_businessexception', 'Can approve what an exception holds for approval')],
            },
            bases=('integrations.exceptionrecord',),
        ),
        migrations.RunPython(ownership_restore),
        migrations.AlterField(
            model_name='exceptioncomment',
            name='exception',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to='controltower.businessexception'),
        ),
        migrations.AlterField(
            model_name='slabreach',
            name='exception',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sla_breaches', to='controltower.businessexception'),
        ),
    ]
