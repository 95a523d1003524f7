"""The daily usage rollup equals the sums over the raw sessions, whatever changes them.

A property test over random sessions (crossing midnight, month ends and DST changes) and random
changes afterwards (a session re-opened, edited, closed or deleted, a driver or card deleted, a
price written into the past, a time zone changed): after each example the stored rollup equals
``with_facts`` group by group, and every summary and the totals read through the rollup equal
those over the raw sessions, for every group_by and filter. Then every path that finishes a
session (over a real websocket: StopTransaction, a later StartTransaction on the connector, a
reboot, the connector Available; the offline sweep; a late StopTransaction replacing an inferred
close), the wholesale changes (a charger moved, a time zone changed, a price), and tenancy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from auth_access.models import ChargeCard
from chargers.choices import SessionStatus, StopReason
from chargers.models import Charger, ChargeSession
from installations.choices import Role
from installations.models import Installation, Membership
from ocpp_bridge import persistence
from portal.tenancy import Action
from reporting.models import DailyUsage, PricePeriod
from reporting.periods import DateRange
from reporting.queries import GroupBy, SessionFilter, energy_series, summarise, totals
from reporting.rollup import UsageSource, differences, rebuild, totals_of
from reporting.services import schedule_price
from tests.conftest import World
from tests.ocpp.conftest import Chargers, eventually
from tests.reporting.conftest import make_session, price_from
from tests.reporting.test_summaries import (
    EDGES,
    Spec,
    actual,
    sites,  # noqa: F401  (the fixture)
    specs,
)

UTC = ZoneInfo("UTC")
OSLO = ZoneInfo("Europe/Oslo")


def assert_exact() -> None:
    assert differences() == []


def assert_same_answers(source: UsageSource, pages: bool = False) -> None:
    """Every summary and the totals through the rollup equal those over the raw sessions
    (``pages``: also a Usage page's summary and chart made from one scan)."""
    raw = source.selected()
    assert not source.summaries
    assert source.totals() == totals(raw)  # from the rollup itself
    for group_by in GroupBy:
        through = source.summarise(group_by)
        direct = summarise(raw, group_by)
        assert actual(through) == actual(direct), (group_by, source.session_filter)
        assert {(r.installation_id, r.key): r.label for r in through} == {
            (r.installation_id, r.key): r.label for r in direct
        }
    # The totals of any summary's rows (what a Usage page shows) are the same sums.
    for group_by in GroupBy:
        assert totals_of(source.summarise(group_by)) == totals(raw), group_by
    if not pages:
        return
    # A Usage page's summary and chart from one scan: per day for a short range, else per month.
    for days in (None, DateRange(date(2026, 3, 1), date(2026, 4, 10))):
        for group_by in GroupBy:
            fresh = replace(source, summaries={})
            rows, series = fresh.summary_and_series(group_by, days)
            assert actual(rows) == actual(summarise(raw, group_by)), (group_by, days)
            assert series == energy_series(raw, days)


def sources(world: World, user: User, card: ChargeCard, first: date, span: int) -> list:
    """The pages' sources for ``user``: across installations with several filters, and one
    installation's with its local midnights (and an instant range that is not, read raw)."""
    sessions = ChargeSession.objects.restrict(user, Action.VIEW)
    usage = DailyUsage.objects.restrict(user, Action.VIEW)
    days = DateRange(first, first + timedelta(days=span))
    start, end = days.instants(OSLO)
    at_a = {"sessions": sessions.filter(charger__installation=world.site_a)}
    at_a["usage"] = usage.filter(installation=world.site_a)
    filters = [
        SessionFilter(),
        SessionFilter(days=days),
        SessionFilter(user_id=world.dora.pk),
        SessionFilter(card_id=card.pk, days=days),
        SessionFilter(charger_id=world.charger_b1.pk),
        SessionFilter(installation_id=world.site_a.pk),
        SessionFilter(status=SessionStatus.COMPLETED),
        SessionFilter(status=SessionStatus.ACTIVE),
        SessionFilter(search="P1"),
    ]
    found = [UsageSource(sessions, usage, f, None) for f in filters]
    found += [
        UsageSource(**at_a, session_filter=SessionFilter(start=start, end=end), zone=OSLO),
        UsageSource(**at_a, session_filter=SessionFilter(start=start), zone=OSLO),
        UsageSource(
            **at_a,
            session_filter=SessionFilter(start=start + timedelta(hours=5), end=end),
            zone=OSLO,
        ),
        UsageSource(**at_a, session_filter=SessionFilter(), zone=OSLO, valid=False),
    ]
    return found


@dataclass(frozen=True)
class Change:
    kind: str
    index: int
    minutes: int


changes = st.builds(
    Change,
    kind=st.sampled_from(
        ["reopen", "edit", "close", "delete", "drop_card", "drop_user", "price", "zone", "move"]
    ),
    index=st.integers(0, 20),
    minutes=st.integers(-600, 600),
)
ZONES = ["America/New_York", "Europe/Oslo", "Asia/Kolkata", "Pacific/Auckland"]


def apply_change(world: World, change: Change, sessions: list[ChargeSession]) -> None:
    if change.kind == "price":
        at = EDGES[change.index % len(EDGES)] + timedelta(minutes=change.minutes)
        site = (world.site_a, world.site_b)[change.index % 2]
        try:
            with transaction.atomic():
                price_from(
                    site, at, f"{1 + change.index / 7:.4f}", ("EUR", "NOK")[change.index % 2]
                )
        except IntegrityError:  # a period at that very time already
            pass
        return
    if change.kind == "zone":
        Installation.objects.filter(pk=world.site_b.pk).update(
            time_zone=ZONES[change.index % len(ZONES)]
        )
        return
    if change.kind == "drop_card":
        ChargeCard.objects.filter(id_tag="PROP-1").delete()
        return
    if change.kind == "drop_user":
        User.objects.filter(pk=world.dave.pk).delete()
        return
    if change.kind == "move":  # a charger moved to the other installation
        moved = Charger.objects.filter(pk=world.charger_b1.pk)
        here = moved.values_list("installation_id", flat=True).get()
        moved.update(installation=world.site_a if here == world.site_b.pk else world.site_b)
        return
    if not sessions:
        return
    session = sessions[change.index % len(sessions)]
    rows = ChargeSession.objects.filter(pk=session.pk)
    if change.kind == "reopen":
        rows.update(status=SessionStatus.ACTIVE, stopped_at=None, meter_stop_wh=None)
    elif change.kind == "edit":
        rows.filter(status=SessionStatus.COMPLETED).update(
            stopped_at=session.started_at + timedelta(minutes=abs(change.minutes)),
            energy_wh=abs(change.minutes) * 37,
            charging_seconds=abs(change.minutes) * 30,
        )
    elif change.kind == "close":
        rows.filter(status=SessionStatus.ACTIVE).update(
            status=SessionStatus.COMPLETED,
            stopped_at=session.started_at + timedelta(minutes=abs(change.minutes)),
            stop_reason=StopReason.OTHER,
            stop_inferred=True,
        )
    elif change.kind == "delete":
        rows.delete()


@settings(
    # 12 examples (each a batch of sessions, later changes and every summary of three users):
    # 30 took 184 s, the slowest test of the suite and a tenth of CI's time budget.
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(specs, min_size=0, max_size=12),
    later=st.lists(changes, max_size=6),
    first=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    span=st.integers(0, 70),
)
def test_the_rollup_equals_the_raw_sums_for_every_summary_and_filter(
    world: World,
    sites: dict,  # noqa: F811  (the fixture)
    batch: list[Spec],
    later: list[Change],
    first: date,
    span: int,
) -> None:
    with transaction.atomic():
        made = []
        for n, spec in enumerate(batch):
            start = EDGES[spec.edge] + timedelta(minutes=spec.offset_min)
            charger = (world.charger_a1, world.charger_b1)[spec.site]
            user = (None, world.dora, world.dave)[spec.who]
            made.append(make_session(
                charger, start, minutes=spec.minutes, energy_wh=spec.energy_wh,
                charging_minutes=int(spec.minutes * spec.charging_share), user=user,
                card=sites["card"] if spec.who == 2 else None, id_tag=f"P{n}", active=spec.active,
            ))  # fmt: skip
        assert_exact()
        for change in later:
            apply_change(world, change, made)
            assert_exact()
        card = ChargeCard.objects.filter(id_tag="PROP-1").first() or sites["card"]
        for user in (sites["root"], world.alice, world.dora):
            for source in sources(world, user, card, first, span):
                assert_same_answers(source, pages=user == world.alice)
        transaction.set_rollback(True)


def test_rebuild_gives_the_rows_the_triggers_keep(world: World, sites: dict) -> None:  # noqa: F811
    for n, edge in enumerate(EDGES):
        make_session(world.charger_a1, edge, minutes=90 * n, energy_wh=1234 * n, user=world.dora)
        make_session(world.charger_b1, edge, minutes=30, energy_wh=777, card=sites["card"])
    kept = sorted(DailyUsage.objects.values_list("day", "charger_id", "sessions", "cost"))
    assert kept and rebuild() == len(kept)
    assert sorted(DailyUsage.objects.values_list("day", "charger_id", "sessions", "cost")) == kept
    DailyUsage.objects.filter(charger=world.charger_b1).update(energy_wh=1)
    assert {kind for kind, _row in differences()} == {"extra", "missing"}
    with pytest.raises(Exception, match="differs"):
        call_command("rollup", "--check", verbosity=0)
    call_command("rollup", "--rebuild", verbosity=0)
    call_command("rollup", "--check", verbosity=0)


def test_only_finished_sessions_are_in_it_and_a_running_one_is_read_raw(world: World) -> None:
    now = timezone.now()
    running = make_session(world.charger_a1, now - timedelta(hours=1), user=world.dora, active=True)
    assert not DailyUsage.objects.exists()
    source = UsageSource(
        ChargeSession.objects.restrict(world.alice, Action.VIEW),
        DailyUsage.objects.restrict(world.alice, Action.VIEW),
        SessionFilter(),
        None,
    )
    assert source.totals().all.sessions == 1
    ChargeSession.objects.filter(pk=running.pk).update(
        status=SessionStatus.COMPLETED, stopped_at=now, energy_wh=4200
    )
    row = DailyUsage.objects.get()
    assert (row.sessions, row.energy_wh, row.connected_s) == (1, 4200, 3600)
    assert source.totals().all.energy_wh == 4200
    assert_exact()


def test_wholesale_changes_recompute_the_rows(world: World) -> None:
    late = make_session(
        world.charger_a1, datetime(2026, 1, 31, 22, 30, tzinfo=UTC), energy_wh=10_000
    )
    make_session(world.charger_b1, datetime(2026, 2, 1, 12, 0, tzinfo=UTC), user=world.dave)
    assert DailyUsage.objects.get(charger=world.charger_a1).day == date(2026, 1, 31)  # Oslo
    Installation.objects.filter(pk=world.site_a.pk).update(time_zone="Asia/Tokyo")
    assert DailyUsage.objects.get(charger=world.charger_a1).day == date(2026, 2, 1)
    assert_exact()
    world.charger_a2.installation = world.site_b
    world.charger_a2.save()
    make_session(world.charger_a2, datetime(2026, 2, 2, 9, 0, tzinfo=UTC), energy_wh=100)
    Charger.objects.filter(pk=world.charger_a2.pk).update(installation=world.site_a)
    assert DailyUsage.objects.get(charger=world.charger_a2).installation_id == world.site_a.pk
    assert_exact()
    # A price written into the past (fixtures may) reprices what ended after it; the first
    # period also covers everything before it.
    price_from(world.site_a, datetime(2026, 1, 31, 23, 0, tzinfo=UTC), "1.5000", "SEK")
    assert_exact()
    assert DailyUsage.objects.get(charger=world.charger_a1).currency == "SEK"
    PricePeriod.objects.filter(installation=world.site_a, currency="SEK").update(
        effective_from=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert DailyUsage.objects.get(charger=world.charger_a1).currency != "SEK"
    assert_exact()
    PricePeriod.objects.filter(installation=world.site_a).delete()
    assert DailyUsage.objects.get(charger=world.charger_a1).currency == ""
    assert_exact()
    ChargeSession.objects.filter(pk=late.pk).delete()
    assert not DailyUsage.objects.filter(charger=world.charger_a1).exists()
    assert_exact()


def test_a_price_from_now_reprices_sessions_that_end_in_the_tolerance(world: World) -> None:
    now = timezone.now()
    make_session(world.charger_a1, now - timedelta(minutes=30), minutes=31, energy_wh=2000)
    schedule_price(world.site_a, price_per_kwh=Decimal("9.99"), currency="DKK", now=now)
    assert DailyUsage.objects.get().currency == "DKK"
    assert_exact()


def test_deleting_a_driver_or_a_card_moves_their_sums_to_nobody(world: World) -> None:
    card = ChargeCard.objects.create(id_tag="DAVE-1", user=world.dave)
    when = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    make_session(world.charger_a1, when, user=world.dave, card=card, energy_wh=3000)
    make_session(world.charger_a1, when + timedelta(hours=2), energy_wh=1000)
    card.delete()
    assert_exact()
    world.dave.delete()
    assert_exact()
    row = DailyUsage.objects.get()
    assert (row.user_id, row.card_id, row.sessions, row.energy_wh) == (None, None, 2, 4000)


def test_a_charger_deleted_takes_its_rows(world: World) -> None:
    make_session(world.charger_b1, datetime(2026, 5, 5, 10, 0, tzinfo=UTC))
    Charger.objects.filter(pk=world.charger_b1.pk).delete()
    assert not DailyUsage.objects.exists()
    assert_exact()


# ---------- tenancy ----------


def test_rollup_rows_pass_the_one_tenancy_gate(world: World, client_as) -> None:
    when = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    make_session(world.charger_a1, when, user=world.dora, energy_wh=1000)
    make_session(world.charger_a1, when, user=world.dave, energy_wh=2000, connector_id=1)
    make_session(world.charger_b1, when, user=world.dora, energy_wh=4000)
    stranger = User.objects.create_user(email="ian@example.com", password="x", name="Ian")
    Membership.objects.create(user=stranger, installation=world.site_b, role=Role.INSTALLER)

    def energy(user: User) -> int:
        rows = DailyUsage.objects.restrict(user, Action.VIEW)
        return sum(rows.values_list("energy_wh", flat=True))

    assert energy(world.alice) == 3000  # her installation, every driver
    assert energy(world.oscar) == 4000  # another owner: only his site
    assert energy(stranger) == 4000  # an installer of another site
    assert energy(world.dora) == 5000  # a driver: her own, on both installations
    assert energy(world.dave) == 2000
    assert not DailyUsage.objects.restrict(world.dora, Action.ADMINISTER).exists()
    # Through the pages: the installer of B sees nothing of A across installations, and a
    # driver's totals on A's history are her own.
    across = client_as(stranger).get(reverse("reporting:across"), {"group_by": "installation"})
    assert across.status_code == 200
    assert [r.installation_id for r in across.context["rows"]] == [world.site_b.pk]
    history = client_as(world.dave).get(reverse("reporting:history", args=[world.site_a.pk]))
    assert history.context["totals"].all.energy_wh == 2000
    mine = client_as(world.dora).get(reverse("reporting:my_charging"))
    assert mine.context["totals"].all.energy_wh == 5000
    assert (
        client_as(world.oscar).get(reverse("reporting:usage", args=[world.site_a.pk])).status_code
        == 404
    )


# ---------- every path that finishes a session ----------


@pytest.mark.usefixtures("transactional_db")
class TestEveryPathThatFinishesASessionKeepsItExact:
    """Transactional, as in tests/ocpp: the bridge's database threads commit their own work."""

    def test_over_a_real_websocket(self, world: World, chargers: Chargers) -> None:
        ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")
        t0 = timezone.now().replace(microsecond=0) - timedelta(hours=3)

        def at(minutes: float) -> str:
            return (t0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

        def start(minutes: float, meter: int, connector: int = 1) -> int:
            payload = {"connectorId": connector, "idTag": "DORA-1", "meterStart": meter}
            return a1.result("StartTransaction", {**payload, "timestamp": at(minutes)})[
                "transactionId"
            ]

        def finished(pk: int) -> bool:
            return ChargeSession.objects.filter(pk=pk, status=SessionStatus.COMPLETED).exists()

        a1 = chargers.connect(world.charger_a1)
        # StopTransaction.
        first = start(0, 1000)
        a1.result(
            "StopTransaction", {"transactionId": first, "meterStop": 5000, "timestamp": at(60)}
        )
        eventually(lambda: DailyUsage.objects.filter(energy_wh=4000).exists())
        assert_exact()
        # A later StartTransaction on the connector closes the one the charger never stopped.
        second = start(70, 6000)
        third = start(80, 7000)
        assert finished(second)
        assert_exact()
        # Its late StopTransaction replaces the inferred values.
        a1.result(
            "StopTransaction", {"transactionId": second, "meterStop": 6900, "timestamp": at(79)}
        )
        eventually(lambda: not ChargeSession.objects.get(pk=second).stop_inferred)
        assert_exact()
        # A reboot ends what was in progress.
        a1.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"})
        eventually(lambda: finished(third))
        assert_exact()
        # The car leaves without a StopTransaction: the connector is Available again.
        fourth = start(100, 8000, connector=1)
        for status, minutes in (("Charging", 101), ("Available", 130)):
            a1.result(
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": status,
                    "timestamp": at(minutes),
                },
            )
        eventually(lambda: finished(fourth))
        assert_exact()
        usage = DailyUsage.objects.restrict(world.dora, Action.VIEW)
        assert sum(usage.values_list("sessions", flat=True)) == 4

    def test_the_offline_sweep_and_an_admin_edit(self, world: World) -> None:
        now = timezone.now()
        running = make_session(world.charger_a1, now - timedelta(hours=2), active=True)
        closed = persistence.close_inferred(world.charger_a1.pk, StopReason.POWER_LOSS, now)
        assert closed == [running.pk]
        assert DailyUsage.objects.get().sessions == 1
        assert_exact()
        session = ChargeSession.objects.get(pk=running.pk)
        session.energy_wh = 12_345
        session.save()
        assert DailyUsage.objects.get().energy_wh == 12_345
        assert_exact()
