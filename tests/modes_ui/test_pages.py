"""The charge-mode pages with the test client: the driver's Charging plan panel (charger page,
its own page, My charging) and the installation's Charging modes tab; errors by the field,
tenancy and another driver's session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chargers.models import Charger, ChargeSession
from commands.routing import LIVE_KEY
from modes import services
from modes.choices import ChargeMode, DayType, PlanStatus
from modes.models import ChargingWindow, SessionPlan, SurplusSettings
from modes.views import week_bars
from portal.redis import get_redis
from reporting.models import PricePeriod
from tests.conftest import World
from tests.web.conftest import field_errors

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


def running(charger: Charger, user: User | None) -> ChargeSession:
    return ChargeSession.objects.create(
        charger=charger, connector=charger.connectors.first(), id_tag="T1", user=user,
        started_at=timezone.now() - timedelta(minutes=10), meter_start_wh=0,
    )  # fmt: skip


def html(response: object) -> str:
    return unescape(response.content.decode())  # type: ignore[attr-defined]


def local_in(world: World, hours: float) -> str:
    moment = timezone.now().astimezone(ZoneInfo(world.site_a.time_zone)) + timedelta(hours=hours)
    return f"{moment:%H:%M}"


# --- the driver's panel --------------------------------------------------------------------


def test_a_driver_sets_a_departure_from_the_charger_page(world: World, client_as: ClientAs) -> None:
    session = running(world.charger_a1, world.dora)
    client = client_as(world.dora)
    page = client.get(reverse("chargers:detail", args=[world.charger_a1.pk]))
    assert page.status_code == 200
    assert "Charging plan" in html(page) and "Your session since" in html(page)
    assert 'name="target_soc_percent"' not in html(page)  # the charger reports no SoC
    answer = client.post(
        reverse("modes:plan", args=[world.charger_a1.pk]),
        {"mode": "departure", "departure_time": local_in(world, 6), "energy_need_kwh": "18.5",
         "next": reverse("chargers:detail", args=[world.charger_a1.pk])},
    )  # fmt: skip
    assert answer.status_code == 302
    plan = SessionPlan.objects.get(session=session)
    assert (plan.mode, plan.energy_need_wh, plan.set_by) == ("departure", 18500, world.dora)
    assert timedelta(hours=5, minutes=58) < plan.departure_at - timezone.now() < timedelta(hours=6)
    page = html(client.get(answer.url))
    assert "Departure set: the plan follows within a minute." in page
    assert "Waiting for the session" in page


def test_where_the_charger_reports_soc_a_driver_may_give_a_target_charge(
    world: World, client_as: ClientAs
) -> None:
    session = running(world.charger_a1, world.dora)
    get_redis().hset(LIVE_KEY.format(charger_id=world.charger_a1.pk), "soc_percent", "40")
    client = client_as(world.dora)
    page = html(client.get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    assert 'name="target_soc_percent"' in page and "Or charge to (%)" in page
    url = reverse("modes:plan", args=[world.charger_a1.pk])
    form = {"mode": "departure", "departure_time": local_in(world, 6), "energy_need_kwh": ""}
    answer = client.post(url, {**form, "target_soc_percent": "30"})
    assert answer.status_code == 400
    assert field_errors(answer, "target_soc_percent") == [
        "The car is already at 40 %; give a higher target."
    ]
    answer = client.post(url, {**form, "target_soc_percent": "80"})
    assert answer.status_code == 302
    plan = SessionPlan.objects.get(session=session)
    assert (plan.target_soc_percent, plan.energy_need_wh) == (80, None)
    page = html(client.get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    assert "charged to <strong>80 %</strong>" in page


def test_the_panel_alone_for_its_polling(world: World, client_as: ClientAs) -> None:
    running(world.charger_a1, world.dora)
    client = client_as(world.dora)
    url = reverse("modes:plan", args=[world.charger_a1.pk])
    page = html(client.get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    assert 'data-poll-ms="60000"' in page  # a session runs: slowly
    services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=3),
        energy_need_wh=6000,
    )  # fmt: skip
    fragment = html(client.get(f"{url}?fragment=1&next=/my/charging/"))
    assert fragment.lstrip().startswith("<link") and "<html" not in fragment
    assert 'data-poll-ms="5000"' in fragment  # waiting for balancing: soon
    assert 'name="next" value="/my/charging/"' in fragment
    assert client_as(world.oscar).get(f"{url}?fragment=1").status_code == 404


def test_a_departure_already_passed_today_means_tomorrow(world: World, client_as: ClientAs) -> None:
    running(world.charger_a1, world.dora)
    client_as(world.dora).post(
        reverse("modes:plan", args=[world.charger_a1.pk]),
        {"mode": "departure", "departure_time": local_in(world, -1), "energy_need_kwh": "5"},
    )
    left = SessionPlan.objects.get().departure_at - timezone.now()
    assert timedelta(hours=22, minutes=58) < left < timedelta(hours=23)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"departure_time": "", "energy_need_kwh": "10"}, "departure_time", "Give the departure time."),
        ({"departure_time": "+0.02", "energy_need_kwh": "10"}, "departure_time",
         "The departure must be at least 5 minutes from now."),
        ({"departure_time": "+6", "energy_need_kwh": "0"}, "energy_need_kwh",
         "The energy need must be more than 0."),
        ({"departure_time": "+6", "energy_need_kwh": "400"}, "energy_need_kwh",
         "400 kWh is more than any car takes (at most 300 kWh)."),
        ({"departure_time": "+6", "energy_need_kwh": ""}, "energy_need_kwh",
         "Give either the energy needed (kWh) or a target charge (%)."),
        ({"departure_time": "25:99", "energy_need_kwh": "10"}, "departure_time", "Enter a valid time."),
    ],
)  # fmt: skip
def test_a_bad_departure_is_shown_by_its_field(
    world: World, client_as: ClientAs, data: dict[str, str], field: str, message: str
) -> None:
    running(world.charger_a1, world.dora)
    if data["departure_time"].startswith("+"):
        data["departure_time"] = local_in(world, float(data["departure_time"][1:]))
    answer = client_as(world.dora).post(
        reverse("modes:plan", args=[world.charger_a1.pk]), {"mode": "departure", **data}
    )
    assert answer.status_code == 400
    assert field_errors(answer, field) == [message]
    assert not SessionPlan.objects.exists()


def test_another_drivers_session_is_theirs(world: World, client_as: ClientAs) -> None:
    running(world.charger_a1, world.dora)
    client = client_as(world.dave)
    page = html(client.get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    assert "Another driver is charging here; their plan is theirs." in page
    assert 'data-testid="plan-form"' not in page
    answer = client.post(
        reverse("modes:plan", args=[world.charger_a1.pk]),
        {"mode": "departure", "departure_time": local_in(world, 6), "energy_need_kwh": "10"},
        follow=True,
    )
    assert "This is another driver's session." in html(answer)
    assert not SessionPlan.objects.exists()
    # An owner may plan it, and the driver sees it.
    client_as(world.alice).post(
        reverse("modes:plan", args=[world.charger_a1.pk]),
        {"mode": "departure", "departure_time": local_in(world, 6), "energy_need_kwh": "10"},
    )
    assert SessionPlan.objects.get().set_by == world.alice
    assert "Waiting for the session" in html(
        client_as(world.dora).get(reverse("chargers:detail", args=[world.charger_a1.pk]))
    )


def test_the_plan_page_of_another_tenants_charger_is_not_found(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    assert client.get(reverse("modes:plan", args=[world.charger_b1.pk])).status_code == 404
    assert client.post(reverse("modes:plan", args=[world.charger_b1.pk]), {}).status_code == 404
    assert client.post(reverse("modes:clear_plan", args=[world.charger_b1.pk])).status_code == 404
    dave = client_as(world.dave)  # may charge on A1 only
    assert dave.get(reverse("modes:plan", args=[world.charger_a2.pk])).status_code == 404


def test_the_panel_shows_the_plan_and_whether_it_will_be_met(
    world: World, client_as: ClientAs
) -> None:
    session = running(world.charger_a1, world.dora)
    plan = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=3),
        energy_need_wh=60_000,
    )  # fmt: skip
    start = timezone.now().replace(second=0, microsecond=0)
    SessionPlan.objects.filter(pk=plan.pk).update(
        status=PlanStatus.CANNOT_BE_MET, planned_at=timezone.now(), delivered_wh=0,
        plan=[{"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat(),
               "current_a": 16.0, "price_per_kwh": 0.3}],
    )  # fmt: skip
    page = html(client_as(world.dora).get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    assert "Cannot be met: you will get about 33.1 kWh" in page
    assert "16 A · 33120 Wh · 0.30 EUR/kWh" in page
    # My charging lists it with a link to the plan.
    mine = html(client_as(world.dora).get(reverse("reporting:my_charging")))
    assert "Charging now" in mine and "Cannot be met: you will get about 33.1 kWh" in mine
    assert reverse("modes:plan", args=[world.charger_a1.pk]) in mine
    assert session.pk


def test_a_slot_without_a_price_of_its_own_shows_the_installations(
    world: World, client_as: ClientAs
) -> None:
    running(world.charger_a1, world.dora)
    plan = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=3),
        energy_need_wh=6000,
    )  # fmt: skip
    PricePeriod.objects.filter(installation=world.site_a).update(price_per_kwh=Decimal("0.25"))
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=30)
    SessionPlan.objects.filter(pk=plan.pk).update(
        status=PlanStatus.ON_TRACK, planned_at=timezone.now(),
        plan=[{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
               "current_a": 10.0}],
    )  # fmt: skip
    page = html(client_as(world.dora).get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    assert "10 A · 6900 Wh · 0.25 EUR/kWh" in page


def test_a_car_outside_the_scheduled_hours_waits_until_they_open(
    world: World, client_as: ClientAs
) -> None:
    running(world.charger_a1, world.dora)
    services.set_charger_mode(world.charger_a1, ChargeMode.SCHEDULED)
    local = timezone.now().astimezone(ZoneInfo(world.site_a.time_zone))
    opens = (local + timedelta(hours=2)).replace(second=0, microsecond=0)
    services.save_windows(
        world.site_a,
        [
            services.WindowSpec(day, opens.time(), (opens + timedelta(hours=1)).time())
            for day in DayType.values
        ],
    )
    page = html(client_as(world.dora).get(reverse("chargers:detail", args=[world.charger_a1.pk])))
    when = f"{opens:%H:%M}" if opens.date() == local.date() else f"{opens:%a %H:%M}"
    assert f"Waits until {when}" in page
    assert f"Waits until {when}" in html(
        client_as(world.dora).get(reverse("reporting:my_charging"))
    )


def test_removing_a_plan(world: World, client_as: ClientAs) -> None:
    running(world.charger_a1, world.dora)
    services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=3),
        energy_need_wh=6000,
    )  # fmt: skip
    assert (
        client_as(world.dave)
        .post(reverse("modes:clear_plan", args=[world.charger_a1.pk]))
        .status_code
        == 302
    )
    assert SessionPlan.objects.exists()  # not his: he does not even see it
    client_as(world.dora).post(reverse("modes:clear_plan", args=[world.charger_a1.pk]))
    assert not SessionPlan.objects.exists()


# --- the installation tab ------------------------------------------------------------------


def tab(world: World) -> str:
    return reverse("modes:installation", args=[world.site_a.pk])


def test_the_tab_is_for_owners_and_installers(world: World, client_as: ClientAs) -> None:
    assert client_as(world.alice).get(tab(world)).status_code == 200
    assert client_as(world.ingrid).get(tab(world)).status_code == 200
    assert client_as(world.dora).get(tab(world)).status_code == 404
    assert client_as(world.oscar).get(tab(world)).status_code == 404
    assert client_as(world.oscar).post(tab(world), {"form": "surplus"}).status_code == 404
    page = html(client_as(world.alice).get(reverse("installations:detail", args=[world.site_a.pk])))
    assert "Charging modes" in page


def test_an_owner_sets_several_chargers_default_mode(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    answer = client.post(
        tab(world),
        {"form": "chargers", "mode": "surplus",
         "chargers": [world.charger_a1.pk, world.charger_a2.pk]},
        follow=True,
    )  # fmt: skip
    assert "Solar surplus is now the default on A1, A2." in html(answer)
    assert services.charger_mode(world.charger_a2) == ChargeMode.SURPLUS
    answer = client.post(tab(world), {"form": "chargers", "mode": "surplus"})
    assert answer.status_code == 400 and "Choose at least one charger." in html(answer)
    answer = client.post(
        tab(world), {"form": "chargers", "mode": "surplus", "chargers": [world.charger_b1.pk]}
    )
    assert answer.status_code == 400  # another tenant's charger is not a choice


def test_an_owner_sets_allowed_hours_and_a_chargers_own(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    answer = client.post(
        tab(world), {"form": "hours", "weekday": "22:00-06:00, 12:00-14:00", "weekend": ""},
        follow=True,
    )  # fmt: skip
    assert "Allowed hours of the installation saved." in html(answer)
    # The week bar: Monday starts the night, Tuesday morning ends it.
    assert "Mon 12:00-14:00, 22:00-06:00; Tue 22:00-06:00, 12:00-14:00, 22:00-06:00" in html(answer)
    assert ChargingWindow.objects.filter(charger=None).count() == 2
    own = f"{tab(world)}?hours_for={world.charger_a2.pk}"
    answer = client.post(own, {"form": "hours", "weekday": "01:00-05:00", "weekend": ""})
    assert answer.status_code == 302 and answer.url.endswith(
        f"?hours_for={world.charger_a2.pk}#hours"
    )
    assert ChargingWindow.objects.get(charger=world.charger_a2).start_time.hour == 1
    page = html(client.get(tab(world)))
    assert "Monday to Friday 01:00-05:00" in page  # the charger's row
    assert client.get(f"{tab(world)}?hours_for={world.charger_b1.pk}").status_code == 404


@pytest.mark.parametrize(
    ("weekday", "message"),
    [
        ("22:00-06:00, 05:00-08:00",
         "The Monday to Friday windows 22:00-06:00 and 05:00-08:00 overlap."),
        ("08:00-08:00", "The window 08:00-08:00 ends when it starts; for a whole day use 00:00-23:59."),
        ("at night", "“at night” is not a window: write it as 22:00-06:00."),
        ("24:00-06:00", "“24:00-06:00” is not a time of day."),
    ],
)  # fmt: skip
def test_bad_hours_are_shown_by_the_field(
    world: World, client_as: ClientAs, weekday: str, message: str
) -> None:
    answer = client_as(world.alice).post(
        tab(world), {"form": "hours", "weekday": weekday, "weekend": ""}
    )
    assert answer.status_code == 400
    assert message in html(answer)
    assert not ChargingWindow.objects.exists()


def test_surplus_settings_reading_and_cars(world: World, client_as: ClientAs) -> None:
    client = client_as(world.ingrid)
    answer = client.post(
        tab(world), {"form": "surplus", "start_after_minutes": "-1", "stop_after_minutes": "10"}
    )
    assert answer.status_code == 400
    assert field_errors(answer, "start_after_minutes") == [
        "The number of minutes cannot be negative."
    ]
    answer = client.post(
        tab(world),
        {"form": "surplus", "start_after_minutes": "2", "stop_after_minutes": "15",
         "one_phase_at_low_surplus": "on"},
        follow=True,
    )  # fmt: skip
    assert "Surplus settings saved." in html(answer)
    assert SurplusSettings.objects.get().stop_after_minutes == 15
    services.report_surplus(world.site_a, [12, 11.5, 0])
    services.set_charger_mode(world.charger_a2, ChargeMode.SURPLUS)
    running(world.charger_a2, world.dora)
    page = html(client.get(tab(world)))
    assert "12 / 11.5 / 0 A" in page
    assert "A2: waiting for surplus" in " ".join(page.split()).replace("</span>", "").replace(
        '<span class="badge badge-warning">', ""
    )


def test_the_week_bar_continues_a_window_past_midnight_on_the_next_day() -> None:
    from datetime import time

    friday_night = ChargingWindow(day_type=DayType.WEEKDAY, start_time=time(22), end_time=time(6))
    week = week_bars([friday_night])
    assert [len(day.segments) for day in week] == [1, 2, 2, 2, 2, 1, 0]  # Sat: Friday's night
    assert (week[5].segments[0].left, week[5].segments[0].width) == (0.0, 25.0)
    assert (week[0].segments[0].left, week[0].segments[0].width) == (91.67, 8.33)
