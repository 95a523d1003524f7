"""The price in force over time, as a view over the append-only price history (see PriceRange)."""

from django.db import migrations, models

CREATE_VIEW = """
CREATE VIEW reporting_price_range AS
SELECT id, installation_id, price_per_kwh, currency,
       CASE WHEN row_number() OVER w = 1 THEN '-infinity'::timestamptz
            ELSE effective_from END AS valid_from,
       COALESCE(lead(effective_from) OVER w, 'infinity'::timestamptz) AS valid_until
FROM reporting_priceperiod
WINDOW w AS (PARTITION BY installation_id ORDER BY effective_from)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("installations", "0001_initial"),
        ("reporting", "0002_initial_prices"),
    ]

    operations = [
        migrations.RunSQL(CREATE_VIEW, "DROP VIEW reporting_price_range"),
        migrations.CreateModel(
            name="PriceRange",
            fields=[
                (
                    "period",
                    models.OneToOneField(
                        db_column="id",
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="reporting.priceperiod",
                    ),
                ),
                ("price_per_kwh", models.DecimalField(decimal_places=4, max_digits=8)),
                ("currency", models.CharField(max_length=3)),
                ("valid_from", models.DateTimeField()),
                ("valid_until", models.DateTimeField()),
                (
                    "installation",
                    models.ForeignKey(
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="price_ranges",
                        to="installations.installation",
                    ),
                ),
            ],
            options={"db_table": "reporting_price_range", "managed": False},
        ),
    ]
