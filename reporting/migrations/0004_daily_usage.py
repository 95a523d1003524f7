"""The daily usage rollup (``DailyUsage``), the triggers that keep it exact, and its backfill.

See ``reporting/rollup.py`` and docs/reporting.md ("Daily rollup")."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# A finished session's contribution (sign 1) or its removal (sign -1): the same facts as
# reporting.queries.with_facts, at the charger's installation, its time zone and price now.
CREATE_SQL = """
CREATE INDEX reporting_session_unfinished ON chargers_chargesession (charger_id)
    WHERE (NOT (status = 'completed') OR stopped_at IS NULL);

CREATE FUNCTION reporting_usage_apply(s chargers_chargesession, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    inst bigint;
    zone text;
    price numeric;
    cur text;
    connected bigint;
    row_id bigint;
    remaining integer;
BEGIN
    IF s.status <> 'completed' OR s.stopped_at IS NULL THEN
        RETURN;
    END IF;
    SELECT c.installation_id, i.time_zone INTO inst, zone
      FROM chargers_charger c JOIN installations_installation i ON i.id = c.installation_id
     WHERE c.id = s.charger_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'reporting_usage_apply: charger % of session % not found', s.charger_id, s.id;
    END IF;
    SELECT r.price_per_kwh, r.currency INTO price, cur
      FROM reporting_price_range r
     WHERE r.installation_id = inst AND r.valid_from <= s.stopped_at AND r.valid_until > s.stopped_at;
    connected := COALESCE(GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (s.stopped_at - s.started_at))))::bigint, 0);
    INSERT INTO reporting_dailyusage AS u (
        installation_id, day, charger_id, user_id, card_id, currency,
        sessions, energy_wh, connected_s, charging_s, idle_s, cost)
    VALUES (
        inst, (date_trunc('day', timezone(zone, s.started_at)))::date, s.charger_id, s.user_id,
        s.card_id, COALESCE(cur, ''), sign, sign * s.energy_wh, sign * connected,
        sign * s.charging_seconds, sign * GREATEST(connected - s.charging_seconds, 0),
        sign * ROUND(s.energy_wh * COALESCE(price, 0) / 1000, 2))
    ON CONFLICT (installation_id, day, charger_id, user_id, card_id, currency) DO UPDATE SET
        sessions = u.sessions + EXCLUDED.sessions,
        energy_wh = u.energy_wh + EXCLUDED.energy_wh,
        connected_s = u.connected_s + EXCLUDED.connected_s,
        charging_s = u.charging_s + EXCLUDED.charging_s,
        idle_s = u.idle_s + EXCLUDED.idle_s,
        cost = u.cost + EXCLUDED.cost
    RETURNING u.id, u.sessions INTO row_id, remaining;
    IF remaining = 0 THEN
        DELETE FROM reporting_dailyusage WHERE id = row_id;
    END IF;
END $$;

CREATE FUNCTION reporting_usage_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM reporting_usage_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM reporting_usage_apply(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER reporting_usage_insert AFTER INSERT ON chargers_chargesession
    FOR EACH ROW WHEN (NEW.status = 'completed')
    EXECUTE FUNCTION reporting_usage_session_changed();
CREATE TRIGGER reporting_usage_update AFTER UPDATE ON chargers_chargesession
    FOR EACH ROW WHEN (
        (OLD.status = 'completed' OR NEW.status = 'completed')
        AND (OLD.status, OLD.started_at, OLD.stopped_at, OLD.energy_wh, OLD.charging_seconds,
             OLD.charger_id, OLD.user_id, OLD.card_id)
            IS DISTINCT FROM
            (NEW.status, NEW.started_at, NEW.stopped_at, NEW.energy_wh, NEW.charging_seconds,
             NEW.charger_id, NEW.user_id, NEW.card_id))
    EXECUTE FUNCTION reporting_usage_session_changed();
CREATE TRIGGER reporting_usage_delete AFTER DELETE ON chargers_chargesession
    FOR EACH ROW WHEN (OLD.status = 'completed')
    EXECUTE FUNCTION reporting_usage_session_changed();

-- What regroups or reprices sessions wholesale (rare: a charger moved, a time zone changed, a
-- price period written) recomputes the affected rows. The lock waits for every transaction
-- that is writing sessions and holds new ones off until commit, so no session's change can be
-- applied with the state from before this one.
CREATE FUNCTION reporting_usage_charger_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE chargers_chargesession IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM reporting_dailyusage WHERE charger_id = NEW.id;
    PERFORM reporting_usage_apply(s, 1) FROM chargers_chargesession s
     WHERE s.charger_id = NEW.id AND s.status = 'completed';
    RETURN NULL;
END $$;
CREATE TRIGGER reporting_usage_charger_moved AFTER UPDATE OF installation_id ON chargers_charger
    FOR EACH ROW WHEN (OLD.installation_id IS DISTINCT FROM NEW.installation_id)
    EXECUTE FUNCTION reporting_usage_charger_moved();

CREATE FUNCTION reporting_usage_zone_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE chargers_chargesession IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM reporting_dailyusage WHERE installation_id = NEW.id;
    PERFORM reporting_usage_apply(s, 1)
       FROM chargers_chargesession s JOIN chargers_charger c ON c.id = s.charger_id
      WHERE c.installation_id = NEW.id AND s.status = 'completed';
    RETURN NULL;
END $$;
CREATE TRIGGER reporting_usage_zone_changed AFTER UPDATE OF time_zone
    ON installations_installation
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION reporting_usage_zone_changed();

-- Sessions that ended at or after ``since`` at ``inst`` may have another price now: their local
-- days are recomputed (``since`` is -infinity when the period is or was the first one, which
-- also covers everything before it).
CREATE FUNCTION reporting_usage_reprice(inst bigint, since timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    zone text;
    days date[];
BEGIN
    LOCK TABLE chargers_chargesession IN SHARE ROW EXCLUSIVE MODE;
    SELECT time_zone INTO zone FROM installations_installation WHERE id = inst;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM reporting_priceperiod WHERE installation_id = inst AND effective_from < since
    ) THEN
        since := '-infinity';
    END IF;
    SELECT array_agg(DISTINCT (date_trunc('day', timezone(zone, s.started_at)))::date) INTO days
      FROM chargers_chargesession s JOIN chargers_charger c ON c.id = s.charger_id
     WHERE c.installation_id = inst AND s.status = 'completed' AND s.stopped_at >= since;
    IF days IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM reporting_dailyusage WHERE installation_id = inst AND day = ANY (days);
    PERFORM reporting_usage_apply(s, 1)
       FROM chargers_chargesession s JOIN chargers_charger c ON c.id = s.charger_id
      WHERE c.installation_id = inst AND s.status = 'completed'
        AND (date_trunc('day', timezone(zone, s.started_at)))::date = ANY (days);
END $$;

CREATE FUNCTION reporting_usage_price_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM reporting_usage_reprice(OLD.installation_id, OLD.effective_from);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM reporting_usage_reprice(NEW.installation_id, NEW.effective_from);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reporting_usage_price_changed AFTER INSERT OR UPDATE OR DELETE
    ON reporting_priceperiod
    FOR EACH ROW EXECUTE FUNCTION reporting_usage_price_changed();
"""

DROP_SQL = """
DROP TRIGGER reporting_usage_price_changed ON reporting_priceperiod;
DROP FUNCTION reporting_usage_price_changed();
DROP FUNCTION reporting_usage_reprice(bigint, timestamptz);
DROP TRIGGER reporting_usage_zone_changed ON installations_installation;
DROP FUNCTION reporting_usage_zone_changed();
DROP TRIGGER reporting_usage_charger_moved ON chargers_charger;
DROP FUNCTION reporting_usage_charger_moved();
DROP TRIGGER reporting_usage_insert ON chargers_chargesession;
DROP TRIGGER reporting_usage_update ON chargers_chargesession;
DROP TRIGGER reporting_usage_delete ON chargers_chargesession;
DROP FUNCTION reporting_usage_session_changed();
DROP FUNCTION reporting_usage_apply(chargers_chargesession, integer);
DROP INDEX reporting_session_unfinished;
"""


def backfill(apps, schema_editor):
    from reporting.rollup import rebuild

    # Without tariffs' priced costs: their table comes later (tariffs 0002) and is empty then.
    rebuild(using=schema_editor.connection.alias, priced=False)


class Migration(migrations.Migration):
    dependencies = [
        ("auth_access", "0008_reservation"),
        ("chargers", "0008_session_time_index"),
        ("installations", "0003_invitation_declined_at"),
        ("reporting", "0003_price_range_view"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "day",
                    models.DateField(
                        help_text="Local day of the sessions' start at the installation."
                    ),
                ),
                ("currency", models.CharField(blank=True, max_length=3)),
                ("sessions", models.IntegerField()),
                ("energy_wh", models.BigIntegerField()),
                ("connected_s", models.BigIntegerField()),
                ("charging_s", models.BigIntegerField()),
                ("idle_s", models.BigIntegerField()),
                ("cost", models.DecimalField(decimal_places=2, max_digits=16)),
                (
                    "card",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="auth_access.chargecard",
                    ),
                ),
                (
                    "charger",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="chargers.charger",
                    ),
                ),
                (
                    "installation",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="installations.installation",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["user", "day"], name="daily_usage_user_day"),
                    models.Index(fields=["charger", "day"], name="daily_usage_charger_day"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("installation", "day", "charger", "user", "card", "currency"),
                        name="daily_usage_group",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunSQL(CREATE_SQL, DROP_SQL),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
