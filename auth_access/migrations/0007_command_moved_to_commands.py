"""RemoteStart.command points at the Command model in its new app (state only: same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth_access', '0006_chargecard_installation'),
        ('commands', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AlterField(
            model_name='remotestart',
            name='command',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='commands.command'),
        )],
            database_operations=[],
        ),
    ]
