# The engine records business exceptions (integrations.ExceptionRecord); the operations
# layer works them (controltower.BusinessException, which extends the record). The rows
# keep their ids (exception pages and audit rows stay valid) and lose nothing:
#   integrations 0011  the record takes over the old table, in the state only
#   controltower 0014  the old model leaves the state; its comments and breaches point at the record
#   integrations 0012  the table is renamed to the record's; the team, assignee, snooze and
#                      due time are set aside in a stash table and leave the record
#   controltower 0015  the extension's table is made and filled from the stash

import django.db.models.deletion
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('canonical', '0006_project_closed_on'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('controltower', '0013_bulk_operation_heartbeat'),
        ('integrations', '0010_sync_state_source_version'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExceptionRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('exception_type', models.CharField(choices=[('missing_rate_card', 'Missing rate card or rate'), ('invalid_legal_entity', 'Invalid legal entity'), ('unknown_customer', 'Unknown customer'), ('unknown_project', 'Unknown project'), ('unknown_resource', 'Unknown resource'), ('project_not_active', 'Project not active'), ('resource_not_assigned', 'Resource not assigned'), ('billing_hold', 'Billing hold'), ('cap_exceeded', 'Contract cap exceeded'), ('amendment_conflict', 'Amendment conflict'), ('amendment_before_contract', 'Amendment before its contract'), ('non_owner_update', 'Update from a system that does not own the data'), ('downstream_rejected', 'Rejected by the target system'), ('reconciliation_drift', 'Reconciliation drift'), ('unhandled_event_type', 'No flow handles this event type'), ('invoice_rejected', 'Invoice candidate rejected'), ('edited_replay', 'Edited replay of a financial document, awaiting approval'), ('other', 'Other')], db_index=True, max_length=40)),
                        ('severity', models.CharField(choices=[('low', 'Low'), ('medium', 'Medium'), ('high', 'High'), ('critical', 'Critical')], default='medium', max_length=10)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('in_progress', 'In progress'), ('resolved', 'Resolved'), ('dismissed', 'Dismissed')], db_index=True, default='open', max_length=20)),
                        ('flow', models.CharField(blank=True, choices=[('contract_to_project', 'Contract to project'), ('project_to_staffing', 'Project to staffing'), ('time_to_billing', 'Time to billing'), ('amendment_propagation', 'Amendment propagation'), ('master_data_sync', 'Master-data sync'), ('reconciliation', 'Reconciliation')], max_length=40)),
                        ('message', models.TextField()),
                        ('details', models.JSONField(blank=True, default=dict)),
                        ('waiting_on', models.CharField(blank=True, db_index=True, help_text='The missing record whose arrival clears this, e.g. legal_entity:ZZ99.', max_length=200)),
                        ('fingerprint', models.CharField(help_text='Type, flow and cause: one open exception per fingerprint.', max_length=300)),
                        ('business_key', models.CharField(blank=True, db_index=True, max_length=100)),
                        ('record_id', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('money_at_risk', models.DecimalField(decimal_places=2, default=Decimal('0'), help_text='Unbilled value or invoice amount held up by this exception.', max_digits=16)),
                        ('currency', models.CharField(blank=True, max_length=3)),
                        ('occurrences', models.PositiveIntegerField(default=1)),
                        ('snoozed_until', models.DateTimeField(blank=True, null=True)),
                        ('sla_due_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('resolution', models.TextField(blank=True)),
                        ('record_type', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='contenttypes.contenttype')),
                        ('customer', models.ForeignKey(blank=True, help_text='Whose work this holds up, where known; ownership rules route on it.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='canonical.customer')),
                        ('legal_entity', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='canonical.legalentity')),
                        ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('prepared_by', models.ForeignKey(blank=True, help_text='Who prepared what this exception asks to approve; they cannot approve it.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('team', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='controltower.team')),
                        ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'controltower_businessexception',
                        'ordering': ['-money_at_risk', '-created_at'],
                        'indexes': [
                            models.Index(fields=['status', '-money_at_risk'], name='bex_status_money'),
                            models.Index(fields=['team', 'status', '-money_at_risk'], name='bex_team_status_money'),
                            models.Index(fields=['assignee', 'status'], name='bex_assignee_status'),
                            models.Index(fields=['-money_at_risk', '-id'], name='bex_money'),
                        ],
                        'constraints': [
                            models.UniqueConstraint(condition=models.Q(('status__in', ['open', 'in_progress'])), fields=('fingerprint',), name='business_exception_one_open_per_fingerprint'),
                            models.CheckConstraint(condition=models.Q(('money_at_risk__gte', 0)), name='business_exception_money_not_negative'),
                        ],
                    },
                ),
                migrations.AlterField(
                    model_name='transaction',
                    name='exception',
                    field=models.ForeignKey(blank=True, help_text='The business exception this transaction is blocked by.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='transactions', to='integrations.exceptionrecord'),
                ),
            ],
            database_operations=[],
        ),
    ]
