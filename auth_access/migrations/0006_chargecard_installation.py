"""Cards registered by an installation's owner or installer charge only at that installation."""

import django.db.models.deletion
from django.db import migrations, models


def registered_where_added(apps, schema_editor):  # type: ignore[no-untyped-def]
    """A card a manager added for a member becomes registered at the installation where that
    manager manages the member (the first such, by id); the holder's own cards stay theirs."""
    ChargeCard = apps.get_model("auth_access", "ChargeCard")
    Membership = apps.get_model("installations", "Membership")
    added_by_others = ChargeCard.objects.exclude(created_by=None).exclude(
        created_by=models.F("user")
    )
    for card in added_by_others.iterator():
        managed = Membership.objects.filter(
            user_id=card.created_by_id, role__in=["owner", "installer"]
        ).values("installation_id")
        installation_id = (
            Membership.objects.filter(user_id=card.user_id, installation_id__in=managed)
            .order_by("installation_id")
            .values_list("installation_id", flat=True)
            .first()
        )
        if installation_id is not None:
            ChargeCard.objects.filter(pk=card.pk).update(installation_id=installation_id)


class Migration(migrations.Migration):
    dependencies = [
        ("auth_access", "0005_remote_start_lifecycle"),
        ("installations", "0002_available_current_validity"),
    ]

    operations = [
        migrations.AddField(
            model_name="chargecard",
            name="installation",
            field=models.ForeignKey(
                blank=True,
                help_text=(
                    "Registered by this installation's owner or installer for a member: it"
                    " charges only here. Empty: the holder's own card."
                ),
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="registered_cards",
                to="installations.installation",
            ),
        ),
        migrations.RunPython(registered_where_added, migrations.RunPython.noop),
    ]
