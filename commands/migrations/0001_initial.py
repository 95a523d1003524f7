"""The Command model moves here from ocpp_bridge: state only, the table keeps its name
(ocpp_bridge_command) and its rows; the content type follows so permissions and admin history stay."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _relabel(apps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label=old, model="command").update(app_label=new)


def move_content_type(apps, schema_editor):
    _relabel(apps, "ocpp_bridge", "commands")


def move_content_type_back(apps, schema_editor):
    _relabel(apps, "commands", "ocpp_bridge")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('chargers', '0005_chargesession_stop_inferred'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('ocpp_bridge', '0002_command_status_refused'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.CreateModel(
            name='Command',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('RemoteStartTransaction', 'Remote Start Transaction'), ('RemoteStopTransaction', 'Remote Stop Transaction'), ('Reset', 'Reset'), ('UnlockConnector', 'Unlock Connector'), ('ChangeAvailability', 'Change Availability'), ('ChangeConfiguration', 'Change Configuration'), ('GetConfiguration', 'Get Configuration'), ('ClearCache', 'Clear Cache'), ('TriggerMessage', 'Trigger Message'), ('SetChargingProfile', 'Set Charging Profile'), ('ClearChargingProfile', 'Clear Charging Profile'), ('GetCompositeSchedule', 'Get Composite Schedule'), ('SendLocalList', 'Send Local List'), ('GetLocalListVersion', 'Get Local List Version'), ('GetDiagnostics', 'Get Diagnostics'), ('UpdateFirmware', 'Update Firmware'), ('DataTransfer', 'Data Transfer')], max_length=32)),
                ('payload', models.JSONField(blank=True, default=dict)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('accepted', 'Accepted'), ('rejected', 'Rejected'), ('failed', 'Failed'), ('timed_out', 'Timed out'), ('refused', 'Refused')], default='pending', max_length=10)),
                ('source', models.CharField(choices=[('ui', 'Web UI'), ('api', 'API'), ('worker', 'Worker'), ('system', 'System')], default='api', max_length=8)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('response', models.JSONField(blank=True, null=True)),
                ('error', models.CharField(blank=True, max_length=300)),
                ('timeout_s', models.FloatField(default=30)),
                ('charger', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='commands', to='chargers.charger')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'ocpp_bridge_command',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['charger', '-created_at'], name='command_charger_time'), models.Index(condition=models.Q(('status__in', ['pending', 'sent'])), fields=['created_at'], name='command_open')],
            },
        )],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
