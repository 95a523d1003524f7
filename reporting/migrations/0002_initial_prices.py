"""Each installation's price and currency become the first period of its price history."""

from django.db import migrations


def initial_prices(apps, schema_editor):  # type: ignore[no-untyped-def]
    Installation = apps.get_model("installations", "Installation")
    PricePeriod = apps.get_model("reporting", "PricePeriod")
    PricePeriod.objects.bulk_create(
        [
            PricePeriod(
                installation_id=installation.pk,
                price_per_kwh=installation.price_per_kwh,
                currency=(installation.currency or "EUR").upper(),
                effective_from=installation.created_at,
            )
            for installation in Installation.objects.filter(price_periods__isnull=True)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_initial"),
        ("installations", "0003_invitation_declined_at"),
    ]

    operations = [migrations.RunPython(initial_prices, migrations.RunPython.noop)]
