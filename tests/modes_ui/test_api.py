"""The charge-mode API: a charger's mode, a session's plan, allowed hours, surplus settings and
the surplus report. Every rule answers 400 naming its field; another tenant's objects are 404; a
driver plans only their own session; read-only tokens read only."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import hash_key
from accounts.models import ApiToken, User
from chargers.models import Charger, ChargeSession
from modes import services
from modes.choices import ChargeMode, DayType, PlanStatus
from modes.models import ChargingWindow, SessionPlan, SurplusSettings
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


def running(charger: Charger, user: User | None, energy_wh: int = 0) -> ChargeSession:
    return ChargeSession.objects.create(
        charger=charger, connector=charger.connectors.first(), id_tag="T1", user=user,
        started_at=timezone.now() - timedelta(minutes=10), meter_start_wh=0, energy_wh=energy_wh,
    )  # fmt: skip


def read_only(user: User) -> APIClient:
    client = APIClient()
    key = f"fbx_ro_{user.pk}"
    ApiToken.objects.create(
        user=user, name="ro", prefix=key[:12], key_hash=hash_key(key), read_only=True
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def limited_to(user: User, installation: object) -> APIClient:
    client = APIClient()
    key = f"fbx_lim_{user.pk}"
    token = ApiToken.objects.create(user=user, name="lim", prefix=key[:12], key_hash=hash_key(key))
    token.installations.add(installation)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def in_hours(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def error_fields(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return body["error"].get("fields", {})  # type: ignore[no-any-return]


# --- a charger's default mode --------------------------------------------------------------


def test_an_owner_sets_a_chargers_default_mode_and_a_driver_reads_it(world: World) -> None:
    url = f"/api/v1/chargers/{world.charger_a1.pk}/mode/"
    answer = api_as(world.alice).put(url, {"mode": "surplus"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"charger": world.charger_a1.pk, "mode": "surplus", "waits_until": None}
    assert services.charger_mode(world.charger_a1) == ChargeMode.SURPLUS
    assert api_as(world.dave).get(url).json()["mode"] == "surplus"


def test_a_chargers_mode_refuses_departure_and_unknown_modes_naming_the_field(
    world: World,
) -> None:
    url = f"/api/v1/chargers/{world.charger_a1.pk}/mode/"
    for mode in ("departure", "turbo"):
        answer = api_as(world.alice).put(url, {"mode": mode}, format="json")
        assert answer.status_code == 400
        assert "mode" in error_fields(answer)
    assert "per session" in str(
        error_fields(api_as(world.alice).put(url, {"mode": "departure"}, format="json"))
    )


def test_scheduled_outside_the_hours_says_until_when(world: World) -> None:
    services.set_charger_mode(world.charger_a1, ChargeMode.SCHEDULED)
    local = timezone.now().astimezone(ZoneInfo(world.site_a.time_zone))
    opens = (local + timedelta(hours=3)).replace(second=0, microsecond=0)
    closes = (opens + timedelta(hours=1)).time()
    services.save_windows(
        world.site_a,
        [services.WindowSpec(day, opens.time(), closes) for day in DayType.values],
    )
    body = api_as(world.dora).get(f"/api/v1/chargers/{world.charger_a1.pk}/mode/").json()
    assert datetime.fromisoformat(body["waits_until"]) == opens


def test_mode_of_another_tenants_charger_or_by_a_driver_or_read_only_token(world: World) -> None:
    url = f"/api/v1/chargers/{world.charger_b1.pk}/mode/"
    assert api_as(world.alice).get(url).status_code == 404
    assert api_as(world.alice).put(url, {"mode": "now"}, format="json").status_code == 404
    mine = f"/api/v1/chargers/{world.charger_a1.pk}/mode/"
    assert api_as(world.dora).put(mine, {"mode": "surplus"}, format="json").status_code == 404
    assert (
        api_as(world.dave).get(f"/api/v1/chargers/{world.charger_a2.pk}/mode/").status_code == 404
    )
    token = read_only(world.alice)
    assert token.get(mine).status_code == 200
    assert token.put(mine, {"mode": "surplus"}, format="json").status_code == 403
    assert services.charger_mode(world.charger_a1) == ChargeMode.NOW


# --- a session's plan ----------------------------------------------------------------------


def test_a_driver_sets_a_departure_on_their_session_and_reads_it_back(world: World) -> None:
    session = running(world.charger_a1, world.dora, energy_wh=2000)
    answer = api_as(world.dora).put(
        f"/api/v1/chargers/{world.charger_a1.pk}/plan/",
        {"departure_at": in_hours(8), "energy_need_wh": 20000},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["session"], body["mode"], body["energy_need_wh"]) == (
        session.pk,
        "departure",
        20000,
    )
    assert body["status"] == PlanStatus.PENDING
    assert body["headline"] == "Waiting for the session"
    # Balancing computed a plan: the session's resource shows it with its energy per slot.
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    SessionPlan.objects.filter(session=session).update(
        status=PlanStatus.CANNOT_BE_MET,
        planned_at=timezone.now(),
        delivered_wh=2000,
        plan=[{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
               "current_a": 16.0, "price_per_kwh": 0.21}],
    )  # fmt: skip
    body = api_as(world.dora).get(f"/api/v1/sessions/{session.pk}/plan/").json()
    assert body["slots"][0]["energy_wh"] == pytest.approx(16 * 230 * 3)
    assert body["slots"][0]["price_per_kwh"] == 0.21
    # The need counts from the plan's setting (2 kWh then): none delivered since, 11 kWh planned.
    assert body["headline"] == "Cannot be met: you will get about 11.0 kWh"
    assert body["expected_wh"] == 16 * 230 * 3


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"departure_at": "2020-01-01T08:00:00+00:00", "energy_need_wh": 1000}, "departure_at", "in the past"),
        ({"energy_need_wh": 1000}, "departure_at", "Give the departure time"),
        ({"departure_at": "tomorrow", "energy_need_wh": 1000}, "departure_at", ""),
        ({"departure_at": "+8h", "energy_need_wh": 0}, "energy_need_wh", "more than 0"),
        ({"departure_at": "+8h", "energy_need_wh": 900000}, "energy_need_wh", "at most 300 kWh"),
        ({"departure_at": "+8h", "energy_need_wh": "lots"}, "energy_need_wh", ""),
        ({"departure_at": "+8h"}, "energy_need_wh", "either"),
        ({"departure_at": "+8h", "target_soc_percent": 80}, "target_soc_percent", "does not report"),
        ({"departure_at": "+8h", "target_soc_percent": 180}, "target_soc_percent", "between 1 and 100"),
        ({"mode": "turbo"}, "mode", ""),
        ({"mode": "now", "departure_at": "+8h"}, "departure_at", "By departure mode only"),
        ({"departure_at": "+200h", "energy_need_wh": 1000}, "departure_at", "within 7 days"),
    ],
)  # fmt: skip
def test_a_bad_plan_answers_400_naming_the_field(
    world: World, payload: dict[str, object], field: str, words: str
) -> None:
    running(world.charger_a1, world.dora)
    payload = {
        key: (
            in_hours(float(value[1:-1]))
            if isinstance(value, str) and value.startswith("+")
            else value
        )
        for key, value in payload.items()
    }
    answer = api_as(world.dora).put(
        f"/api/v1/chargers/{world.charger_a1.pk}/plan/", payload, format="json"
    )
    assert answer.status_code == 400, answer.content
    fields = error_fields(answer)
    assert field in fields, fields
    assert words in str(fields[field])
    assert not SessionPlan.objects.exists()


def test_without_a_car_the_plan_waits_for_the_next_session(world: World) -> None:
    answer = api_as(world.dora).put(
        f"/api/v1/chargers/{world.charger_a1.pk}/plan/",
        {"departure_at": in_hours(8), "target_soc_percent": None, "energy_need_wh": 15000},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["session"] is None and body["claim_deadline"] is not None
    assert (
        api_as(world.dora).get(f"/api/v1/chargers/{world.charger_a1.pk}/plan/").status_code == 200
    )
    # Another driver does not see it, and an owner does.
    assert (
        api_as(world.dave).get(f"/api/v1/chargers/{world.charger_a1.pk}/plan/").status_code == 404
    )
    assert (
        api_as(world.alice).get(f"/api/v1/chargers/{world.charger_a1.pk}/plan/").status_code == 200
    )
    deleted = api_as(world.dora).delete(f"/api/v1/chargers/{world.charger_a1.pk}/plan/")
    assert deleted.status_code == 204
    assert not SessionPlan.objects.exists()


def test_a_driver_cannot_plan_another_drivers_session(world: World) -> None:
    session = running(world.charger_a1, world.dora)
    plan = {"departure_at": in_hours(8), "energy_need_wh": 10000}
    # Through the session: not found (a driver sees only their own sessions).
    answer = api_as(world.dave).put(f"/api/v1/sessions/{session.pk}/plan/", plan, format="json")
    assert answer.status_code == 404
    assert api_as(world.dave).get(f"/api/v1/sessions/{session.pk}/plan/").status_code == 404
    # Through the charger they may charge on: refused, said why.
    answer = api_as(world.dave).put(
        f"/api/v1/chargers/{world.charger_a1.pk}/plan/", plan, format="json"
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == "This is another driver's session."
    assert not SessionPlan.objects.exists()
    # The owner may plan it; the driver then sees the plan on their session and may remove it.
    answer = api_as(world.alice).put(f"/api/v1/sessions/{session.pk}/plan/", plan, format="json")
    assert answer.status_code == 200, answer.content
    assert (
        api_as(world.dave).delete(f"/api/v1/chargers/{world.charger_a1.pk}/plan/").status_code
        == 404
    )
    assert api_as(world.dora).get(f"/api/v1/sessions/{session.pk}/plan/").status_code == 200
    assert api_as(world.dora).delete(f"/api/v1/sessions/{session.pk}/plan/").status_code == 204


def test_plans_across_tenants_ended_sessions_and_read_only_tokens(world: World) -> None:
    theirs = running(world.charger_b1, world.oscar)
    plan = {"departure_at": in_hours(8), "energy_need_wh": 10000}
    assert (
        api_as(world.alice)
        .put(f"/api/v1/sessions/{theirs.pk}/plan/", plan, format="json")
        .status_code
        == 404
    )
    assert (
        api_as(world.alice)
        .put(f"/api/v1/chargers/{world.charger_b1.pk}/plan/", plan, format="json")
        .status_code
        == 404
    )
    assert (
        api_as(world.alice).get(f"/api/v1/chargers/{world.charger_b1.pk}/plan/").status_code == 404
    )
    mine = running(world.charger_a2, world.dora)
    mine.status = "completed"
    mine.stopped_at = timezone.now()
    mine.save()
    answer = api_as(world.dora).put(f"/api/v1/sessions/{mine.pk}/plan/", plan, format="json")
    assert answer.status_code == 400
    assert error_fields(answer) == {"session": ["The session has ended."]}
    token = read_only(world.dora)
    answer = token.put(f"/api/v1/chargers/{world.charger_a1.pk}/plan/", plan, format="json")
    assert answer.status_code == 403
    assert not SessionPlan.objects.exists()


# --- allowed hours -------------------------------------------------------------------------


def test_an_owner_replaces_the_hours_and_members_read_them(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/charging-windows/"
    windows = [
        {"day_type": "weekday", "start_time": "22:00", "end_time": "06:00"},
        {"day_type": "weekend", "start_time": "00:00", "end_time": "23:59"},
    ]
    answer = api_as(world.ingrid).put(url, {"windows": windows}, format="json")
    assert answer.status_code == 200, answer.content
    assert [(w["day_type"], w["start_time"], w["end_time"]) for w in answer.json()] == [
        ("weekday", "22:00", "06:00"),
        ("weekend", "00:00", "23:59"),
    ]
    own = [{"day_type": "weekday", "start_time": "01:00", "end_time": "05:00"}]
    answer = api_as(world.alice).put(
        url, {"charger": world.charger_a2.pk, "windows": own}, format="json"
    )
    assert answer.status_code == 200 and answer.json()[0]["charger"] == world.charger_a2.pk
    listed = api_as(world.dora).get(url)
    assert listed.status_code == 200 and len(listed.json()) == 3
    assert api_as(world.dora).put(url, {"windows": []}, format="json").status_code == 404
    assert api_as(world.oscar).get(url).status_code == 404
    assert ChargingWindow.objects.count() == 3


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"windows": [{"day_type": "weekday", "start_time": "22:00", "end_time": "06:00"},
                      {"day_type": "weekday", "start_time": "05:00", "end_time": "08:00"}]},
         "windows", "overlap"),
        ({"windows": [{"day_type": "weekday", "start_time": "08:00", "end_time": "08:00"}]},
         "windows", "ends when it starts"),
        ({"windows": [{"day_type": "monday", "start_time": "08:00", "end_time": "09:00"}]},
         "windows", ""),
        ({"windows": [{"day_type": "weekday", "start_time": "25:00", "end_time": "09:00"}]},
         "windows", ""),
        ({"windows": "22-06"}, "windows", ""),
        ({"charger": -1, "windows": []}, "charger", "No such charger"),
    ],
)  # fmt: skip
def test_bad_hours_answer_400_naming_the_field(
    world: World, payload: dict[str, object], field: str, words: str
) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/charging-windows/"
    answer = api_as(world.alice).put(url, payload, format="json")
    assert answer.status_code == 400, answer.content
    fields = error_fields(answer)
    assert field in fields and words in str(fields[field]), fields
    assert not ChargingWindow.objects.exists()


def test_hours_of_another_installations_charger_are_refused(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/charging-windows/"
    answer = api_as(world.alice).put(
        url, {"charger": world.charger_b1.pk, "windows": []}, format="json"
    )
    assert answer.status_code == 400
    assert "charger" in error_fields(answer)


# --- surplus -------------------------------------------------------------------------------


def test_surplus_settings_report_and_the_cars_waiting(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/surplus/"
    answer = api_as(world.alice).get(url)
    assert answer.status_code == 200
    assert answer.json()["start_after_minutes"] == 5 and answer.json()["live_surplus_a"] == [
        0,
        0,
        0,
    ]
    answer = api_as(world.alice).put(
        url, {"start_after_minutes": 3, "stop_after_minutes": 12, "one_phase_at_low_surplus": True},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert answer.json()["stop_after_minutes"] == 12
    services.set_charger_mode(world.charger_a1, ChargeMode.SURPLUS)
    session = running(world.charger_a1, world.dora)
    answer = api_as(world.ingrid).post(url, {"surplus_a": [10, 9.5, 8]}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["live_surplus_a"] == [10.0, 9.5, 8.0]
    assert body["cars"] == [
        {"charger": world.charger_a1.pk, "charger_name": "A1", "session": session.pk,
         "active": False, "enough_since": None}
    ]  # fmt: skip
    row = SurplusSettings.objects.get(installation=world.site_a)
    assert (row.start_after_minutes, row.one_phase_at_low_surplus) == (3, True)


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("put", {"start_after_minutes": -1, "stop_after_minutes": 10}, "start_after_minutes"),
        ("put", {"start_after_minutes": 5, "stop_after_minutes": 241}, "stop_after_minutes"),
        ("put", {"start_after_minutes": "soon", "stop_after_minutes": 5}, "start_after_minutes"),
        ("post", {"surplus_a": [10, 10]}, "surplus_a"),
        ("post", {"surplus_a": [10, -1, 0]}, "surplus_a"),
        ("post", {"surplus_a": [10, 10, 10], "valid_until": "2020-01-01T00:00:00Z"}, "valid_until"),
        ("post", {"surplus_a": "lots"}, "surplus_a"),
    ],
)
def test_bad_surplus_input_answers_400_naming_the_field(
    world: World, method: str, payload: dict[str, object], field: str
) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/surplus/"
    answer = getattr(api_as(world.alice), method)(url, payload, format="json")
    assert answer.status_code == 400, answer.content
    assert field in error_fields(answer)
    assert not SurplusSettings.objects.exists()


def test_surplus_is_for_owners_and_installers_of_the_installation(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/surplus/"
    assert api_as(world.dora).get(url).status_code == 404
    assert api_as(world.dora).post(url, {"surplus_a": [1, 1, 1]}, format="json").status_code == 404
    assert api_as(world.oscar).get(url).status_code == 404
    assert api_as(world.oscar).post(url, {"surplus_a": [1, 1, 1]}, format="json").status_code == 404
    token = read_only(world.alice)
    assert token.get(url).status_code == 200
    assert token.post(url, {"surplus_a": [1, 1, 1]}, format="json").status_code == 403
    assert not SurplusSettings.objects.exists()


def test_a_token_limited_to_another_installation_reaches_none_of_these(world: World) -> None:
    """Ingrid installs sites A and C; her token for C reaches nothing of A."""
    token = limited_to(world.ingrid, world.site_c)
    session = running(world.charger_a1, world.dora)
    plan = {"departure_at": in_hours(8), "energy_need_wh": 10000}
    for method, url, body in [
        ("get", f"/api/v1/chargers/{world.charger_a1.pk}/mode/", None),
        ("put", f"/api/v1/chargers/{world.charger_a1.pk}/mode/", {"mode": "surplus"}),
        ("put", f"/api/v1/chargers/{world.charger_a1.pk}/plan/", plan),
        ("put", f"/api/v1/sessions/{session.pk}/plan/", plan),
        ("get", f"/api/v1/installations/{world.site_a.pk}/charging-windows/", None),
        ("put", f"/api/v1/installations/{world.site_a.pk}/charging-windows/", {"windows": []}),
        ("get", f"/api/v1/installations/{world.site_a.pk}/surplus/", None),
        ("post", f"/api/v1/installations/{world.site_a.pk}/surplus/", {"surplus_a": [1, 1, 1]}),
    ]:
        answer = getattr(token, method)(url, body, format="json")
        assert answer.status_code == 404, (method, url, answer.status_code)
    assert not SessionPlan.objects.exists() and not SurplusSettings.objects.exists()
    assert services.charger_mode(world.charger_a1) == ChargeMode.NOW
    ok = api_as(world.ingrid).get(f"/api/v1/installations/{world.site_a.pk}/surplus/")
    assert ok.status_code == 200
