"""Every existing installation gets its access policy (new ones get it when created)."""

from django.db import migrations


def create_policies(apps, schema_editor):
    Installation = apps.get_model("installations", "Installation")
    AccessPolicy = apps.get_model("auth_access", "AccessPolicy")
    missing = Installation.objects.filter(access_policy__isnull=True).values_list("pk", flat=True)
    AccessPolicy.objects.bulk_create(
        [AccessPolicy(installation_id=pk) for pk in missing.iterator()], batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [("auth_access", "0003_access_control")]

    operations = [migrations.RunPython(create_policies, migrations.RunPython.noop)]
