"""Command moved to the commands app: forget it here, keep the table (state only)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('auth_access', '0007_command_moved_to_commands'),
        ('commands', '0001_initial'),
        ('ocpp_bridge', '0002_command_status_refused'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Command')],
            database_operations=[],
        ),
    ]
