# See integrations 0011 for the steps of the move.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('controltower', '0013_bulk_operation_heartbeat'),
        ('integrations', '0011_exception_record_takes_the_table'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='exceptioncomment',
                    name='exception',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to='integrations.exceptionrecord'),
                ),
                migrations.AlterField(
                    model_name='slabreach',
                    name='exception',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sla_breaches', to='integrations.exceptionrecord'),
                ),
                migrations.DeleteModel(name='BusinessException'),
            ],
            database_operations=[],
        ),
    ]
