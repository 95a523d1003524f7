"""The History tab, the charger page's history section and "My charging": what each persona sees,
the filters (periods in the installation's time zone), totals, keyset pages and cost."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from auth_access.models import ChargeCard
from chargers.models import ChargeSession
from installations.models import Membership
from portal.tenancy import Action
from reporting.queries import CursorError, Sort, decode_cursor, keyset_page, totals, with_facts
from tests.conftest import World
from tests.reporting.conftest import make_session, price_from

pytestmark = pytest.mark.django_db
OSLO = ZoneInfo("Europe/Oslo")


def session_ids(response: object) -> list[int]:
    html = response.content.decode()  # type: ignore[attr-defined]
    return [int(pk) for pk in re.findall(r'data-session="(\d+)"', html)]


def history(client: object, world: World, **params: object) -> object:
    url = reverse("reporting:history", args=[world.site_a.pk])
    return client.get(url, params)  # type: ignore[attr-defined]


class TestWhoSeesWhat:
    def test_owner_and_installer_see_every_session_of_the_site_newest_first(
        self, world: World, client_as
    ) -> None:
        now = timezone.now()
        older = make_session(world.charger_a1, now - timedelta(days=2), user=world.dora)
        newer = make_session(world.charger_a2, now - timedelta(days=1), user=world.dave)
        make_session(world.charger_b1, now - timedelta(hours=3), user=world.oscar)
        for persona in (world.alice, world.ingrid):
            response = history(client_as(persona), world)
            assert response.status_code == 200
            assert session_ids(response) == [newer.pk, older.pk]

    def test_a_driver_sees_only_their_own_sessions_in_the_tab(
        self, world: World, client_as
    ) -> None:
        now = timezone.now()
        mine = make_session(world.charger_a2, now - timedelta(hours=5), user=world.dave)
        make_session(world.charger_a1, now - timedelta(hours=4), user=world.dora)
        response = history(client_as(world.dave), world)
        assert session_ids(response) == [mine.pk]
        assert 'name="driver"' not in response.content.decode()  # no other drivers to pick

    def test_another_tenant_gets_404_on_every_page(self, world: World, client_as) -> None:
        client = client_as(world.oscar)
        pk = world.site_a.pk
        for url in [
            reverse("reporting:history", args=[pk]),
            reverse("reporting:usage", args=[pk]),
            reverse("reporting:history_export", args=[pk, "csv"]),
            reverse("reporting:history_export", args=[pk, "xlsx"]),
            reverse("reporting:usage_export", args=[pk, "csv"]),
        ]:
            assert client.get(url).status_code == 404, url
        assert client.post(reverse("reporting:price_create", args=[pk]), {}).status_code == 404

    def test_an_installer_of_another_site_sees_nothing_here(self, world: World, client_as) -> None:
        from accounts.models import User
        from installations.choices import Role

        stranger = User.objects.create_user(email="ivan@example.com", password="x", name="Ivan")
        Membership.objects.create(user=stranger, installation=world.site_b, role=Role.INSTALLER)
        make_session(world.charger_a1, timezone.now() - timedelta(hours=1), user=world.dora)
        client = client_as(stranger)
        assert history(client, world).status_code == 404
        assert session_ids(client.get(reverse("reporting:my_charging"))) == []
        across = client.get(reverse("reporting:across"))
        assert "Harbour car park" not in across.content.decode()

    def test_the_charger_page_shows_its_latest_sessions(self, world: World, client_as) -> None:
        now = timezone.now()
        here = make_session(world.charger_a1, now - timedelta(hours=2), user=world.dora)
        make_session(world.charger_a2, now - timedelta(hours=1), user=world.dora)
        response = client_as(world.alice).get(
            reverse("chargers:detail", args=[world.charger_a1.pk])
        )
        html = response.content.decode()
        assert 'data-testid="charger-history"' in html
        assert session_ids(response) == [here.pk]
        assert f"?charger={world.charger_a1.pk}" in html
        # Dave may use A1 but sees only his own sessions there.
        response = client_as(world.dave).get(reverse("chargers:detail", args=[world.charger_a1.pk]))
        assert session_ids(response) == []


class TestMyCharging:
    def test_a_driver_sees_their_sessions_at_two_installations_and_nothing_else(
        self, world: World, client_as
    ) -> None:
        now = timezone.now()
        at_a = make_session(world.charger_a2, now - timedelta(days=3), user=world.dave)
        at_b = make_session(world.charger_b1, now - timedelta(days=1), user=world.dave)
        make_session(world.charger_a1, now - timedelta(days=2), user=world.dora)
        make_session(world.charger_b1, now - timedelta(hours=2), user=world.oscar)
        response = client_as(world.dave).get(reverse("reporting:my_charging"))
        assert session_ids(response) == [at_b.pk, at_a.pk]
        html = response.content.decode()
        assert "Depot north" in html and "Harbour car park" in html
        # Filtered to one installation.
        response = client_as(world.dave).get(
            reverse("reporting:my_charging"), {"installation": world.site_b.pk}
        )
        assert session_ids(response) == [at_b.pk]

    def test_a_driver_who_left_still_sees_their_sessions_there(
        self, world: World, client_as
    ) -> None:
        past = make_session(world.charger_a1, timezone.now() - timedelta(days=30), user=world.dora)
        Membership.objects.filter(user=world.dora, installation=world.site_a).delete()
        client = client_as(world.dora)
        assert history(client, world).status_code == 404  # no longer a member
        assert session_ids(client.get(reverse("reporting:my_charging"))) == [past.pk]

    def test_today_across_installations_is_the_viewers_date_not_utcs(
        self, world: World, client_as
    ) -> None:
        """My charging spans installations, so "today" cannot come from one installation's page;
        it is the date where the viewer's installations are, and each session's local day in its
        own installation's zone. The zone is picked so that its date differs from UTC's now."""
        now = timezone.now()
        zone = ZoneInfo("Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago")
        assert now.astimezone(zone).date() != now.date()
        world.site_a.time_zone = str(zone)
        world.site_a.save()
        just_now = make_session(world.charger_a2, now - timedelta(minutes=2), user=world.dave)
        response = client_as(world.dave).get(reverse("reporting:my_charging"), {"period": "today"})
        assert session_ids(response) == [just_now.pk]

    def test_an_owner_sees_only_their_own_charging_there(self, world: World, client_as) -> None:
        now = timezone.now()
        own = make_session(world.charger_a1, now - timedelta(hours=3), user=world.alice)
        make_session(world.charger_a1, now - timedelta(hours=2), user=world.dora)
        assert session_ids(client_as(world.alice).get(reverse("reporting:my_charging"))) == [own.pk]


class TestFilters:
    def test_periods_are_local_days_of_the_installation(self, world: World, client_as) -> None:
        # Oslo is UTC+1 in January: 23:30 UTC on 9 January is already 10 January there.
        late = make_session(world.charger_a1, datetime(2026, 1, 9, 23, 30, tzinfo=ZoneInfo("UTC")))
        early = make_session(world.charger_a1, datetime(2026, 1, 9, 22, 30, tzinfo=ZoneInfo("UTC")))
        client = client_as(world.alice)
        jan10 = history(client, world, period="custom", first="2026-01-10", last="2026-01-10")
        assert session_ids(jan10) == [late.pk]
        jan9 = history(client, world, first="2026-01-09", last="2026-01-09")
        assert session_ids(jan9) == [early.pk]

    def test_named_periods(self, world: World, client_as) -> None:
        now = timezone.now()
        today = make_session(world.charger_a1, now - timedelta(minutes=1), minutes=0.5)
        long_ago = make_session(world.charger_a1, now - timedelta(days=800))
        client = client_as(world.alice)
        assert session_ids(history(client, world, period="today")) == [today.pk]
        assert session_ids(history(client, world, period="this_year")) == [today.pk]
        assert session_ids(history(client, world)) == [today.pk, long_ago.pk]

    def test_charger_driver_card_status_and_search(self, world: World, client_as) -> None:
        now = timezone.now()
        card = ChargeCard.objects.create(id_tag="DORA-1", user=world.dora, name="Dora's blue tag")
        by_card = make_session(
            world.charger_a1, now - timedelta(hours=4), user=world.dora, card=card
        )
        on_a2 = make_session(world.charger_a2, now - timedelta(hours=3), user=world.dave)
        running = make_session(
            world.charger_a2, now - timedelta(hours=1), user=world.dave, active=True, connector_id=2
        )
        client = client_as(world.alice)
        assert session_ids(history(client, world, charger=world.charger_a1.pk)) == [by_card.pk]
        assert session_ids(history(client, world, driver=world.dave.pk)) == [running.pk, on_a2.pk]
        assert session_ids(history(client, world, card=card.pk)) == [by_card.pk]
        assert session_ids(history(client, world, status="active")) == [running.pk]
        assert session_ids(history(client, world, q="blue tag")) == [by_card.pk]
        assert session_ids(history(client, world, q="dave@")) == [running.pk, on_a2.pk]
        # Another site's charger is not a choice: the form refuses it and shows nothing.
        response = history(client, world, charger=world.charger_b1.pk)
        assert response.status_code == 200 and session_ids(response) == []

    def test_a_range_that_ends_before_it_starts_is_a_form_error(
        self, world: World, client_as
    ) -> None:
        make_session(world.charger_a1, timezone.now() - timedelta(hours=1))
        response = history(client_as(world.alice), world, first="2026-02-10", last="2026-02-01")
        assert "The range ends before it starts." in response.content.decode()
        assert session_ids(response) == []


class TestPagesAndTotals:
    def test_keyset_pages_walk_every_session_once_even_with_equal_start_times(
        self, world: World, client_as
    ) -> None:
        start = timezone.now() - timedelta(days=10)
        made = []
        for i in range(120):
            charger = world.charger_a1 if i % 2 else world.charger_a2
            made.append(
                make_session(charger, start + timedelta(minutes=(i // 3) * 7), id_tag=f"T{i}")
            )
        expected = [s.pk for s in sorted(made, key=lambda s: (s.started_at, s.pk), reverse=True)]
        client = client_as(world.alice)
        seen: list[int] = []
        url = reverse("reporting:history", args=[world.site_a.pk])
        while url:
            response = client.get(url)
            seen += session_ids(response)
            older = re.search(
                r'href="(\?[^"]*after=[^"]+)" *>Older',
                response.content.decode().replace(' rel="next"', ""),
            )
            url = (
                reverse("reporting:history", args=[world.site_a.pk])
                + older.group(1).replace("&amp;", "&")
                if older
                else ""
            )
        assert seen == expected

    @pytest.mark.parametrize("sort", list(Sort))
    def test_every_sort_walks_every_session_once_in_its_order(
        self, world: World, sort: Sort
    ) -> None:
        """Keyset pages in each order, with many ties (equal energy, length, cost, start)."""
        price_from(world.site_a, timezone.now() - timedelta(days=30), "2.5000", "NOK")
        start = timezone.now() - timedelta(days=10)
        for i in range(23):
            make_session(
                world.charger_a1 if i % 2 else world.charger_a2,
                start + timedelta(minutes=(i // 4) * 90),
                minutes=10 + (i % 3) * 5,
                energy_wh=1000 * (i % 5),
            )
        sessions = with_facts(ChargeSession.objects.restrict(world.alice, Action.VIEW))
        key = {
            Sort.NEWEST: lambda s: (s.started_at, s.pk),
            Sort.OLDEST: lambda s: (s.started_at, s.pk),
            Sort.ENERGY: lambda s: (s.energy_wh, s.pk),
            Sort.LONGEST: lambda s: (s.connected_s, s.pk),
            Sort.COST: lambda s: (s.cost, s.pk),
        }[sort]
        expected = [s.pk for s in sorted(sessions, key=key, reverse=sort != Sort.OLDEST)]
        seen: list[int] = []
        cursor = None
        while True:
            page = keyset_page(sessions, cursor, size=4, sort=sort)
            seen += [s.pk for s in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected

    def test_the_history_page_sorts_and_a_cursor_of_another_sort_starts_over(
        self, world: World, client_as
    ) -> None:
        now = timezone.now()
        small = make_session(world.charger_a1, now - timedelta(hours=1), energy_wh=1000)
        big = make_session(world.charger_a1, now - timedelta(hours=5), energy_wh=9000)
        client = client_as(world.alice)
        assert session_ids(history(client, world, sort="energy")) == [big.pk, small.pk]
        assert session_ids(history(client, world, sort="oldest")) == [big.pk, small.pk]
        assert session_ids(history(client, world)) == [small.pk, big.pk]
        page = keyset_page(
            with_facts(ChargeSession.objects.restrict(world.alice, Action.VIEW)), size=1
        )
        assert page.next_cursor is not None
        with pytest.raises(CursorError):
            decode_cursor(page.next_cursor, Sort.ENERGY)
        response = history(client, world, sort="energy", after=page.next_cursor)
        assert session_ids(response) == [big.pk, small.pk]
        bad = history(client, world, sort="sideways")
        assert bad.status_code == 200 and "sideways" in bad.content.decode()

    def test_a_forged_cursor_shows_the_first_page(self, world: World, client_as) -> None:
        only = make_session(world.charger_a1, timezone.now() - timedelta(hours=1))
        assert session_ids(history(client_as(world.alice), world, after="not-a-cursor")) == [
            only.pk
        ]

    def test_cost_is_energy_times_the_price_in_force_when_the_session_ended(
        self, world: World
    ) -> None:
        t0 = datetime(2026, 3, 1, 12, 0, tzinfo=OSLO)
        price_from(world.site_a, t0, "2.0000", "NOK")
        price_from(world.site_a, t0 + timedelta(days=1), "3.0000", "NOK")
        # Starts under the first price, ends under the second: the second applies.
        crossing = make_session(
            world.charger_a1, t0 + timedelta(hours=23), minutes=120, energy_wh=10_000
        )
        before = make_session(world.charger_a1, t0 + timedelta(hours=1), energy_wh=1_234)
        # Before every period: the first one.
        ancient = make_session(world.charger_a1, t0 - timedelta(days=5), energy_wh=500)
        sessions = with_facts(ChargeSession.objects.restrict(world.alice, Action.VIEW))
        costs = {s.pk: (s.cost, s.currency) for s in sessions}
        assert costs[crossing.pk] == (Decimal("30.00"), "NOK")
        assert costs[before.pk] == (Decimal("2.47"), "NOK")  # 1.234 kWh x 2 = 2.468
        assert costs[ancient.pk] == (Decimal("1.00"), "NOK")

    def test_totals_cover_the_filtered_set_not_the_page(self, world: World, client_as) -> None:
        start = timezone.now() - timedelta(days=3)
        for i in range(60):
            make_session(
                world.charger_a1,
                start + timedelta(minutes=i * 10),
                minutes=5,
                energy_wh=1000,
                charging_minutes=3,
            )
        sums = totals(ChargeSession.objects.restrict(world.alice, Action.VIEW))
        assert sums.all.sessions == 60
        assert sums.all.energy_wh == 60_000
        assert sums.all.connected_s == 60 * 300
        assert sums.all.idle_s == 60 * 120
        html = history(client_as(world.alice), world).content.decode()
        assert len(session_ids(history(client_as(world.alice), world))) == 50
        assert re.search(r'data-total="sessions">60<', html)
        assert re.search(r'data-total="energy">60\.000 ', html)

    def test_keyset_page_helper_reports_no_cursor_on_the_last_page(self, world: World) -> None:
        make_session(world.charger_a1, timezone.now() - timedelta(hours=1))
        page = keyset_page(with_facts(ChargeSession.objects.restrict(world.alice, Action.VIEW)))
        assert page.next_cursor is None and len(page.rows) == 1
