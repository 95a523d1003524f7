"""The prices API: an installation's tariff, holidays, day-ahead prices and price slots. Every
rule answers 400 naming its field or entry; another tenant's installation is 404; drivers read;
posting day-ahead prices takes operate, a tariff or a holiday administer."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import hash_key
from accounts.models import ApiToken, User
from tariffs.models import DayAheadPrice, Holiday, Tariff
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db
OSLO = ZoneInfo("Europe/Oslo")


def read_only(user: User) -> APIClient:
    client = APIClient()
    key = f"fbx_ro_{user.pk}"
    ApiToken.objects.get_or_create(
        key_hash=hash_key(key),
        defaults={"user": user, "name": "ro", "prefix": key[:12], "read_only": True},
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def error_fields(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == "invalid", body
    return body["error"].get("fields", {})  # type: ignore[no-any-return]


def next_local_midnight() -> datetime:
    today = timezone.now().astimezone(OSLO).date()
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), OSLO)


def hourly(start: datetime, prices: list[str]) -> list[dict[str, str]]:
    return [
        {
            "start": (start + timedelta(hours=i)).isoformat(),
            "end": (start + timedelta(hours=i + 1)).isoformat(),
            "price_per_kwh": price,
        }
        for i, price in enumerate(prices)
    ]


def ahead_url(world: World) -> str:
    return f"/api/v1/installations/{world.site_a.pk}/day-ahead-prices/"


# --- day-ahead prices ------------------------------------------------------------------------


def test_a_feed_posts_day_ahead_prices_and_reads_them_back(world: World) -> None:
    tomorrow = next_local_midnight()
    body = {"currency": "nok", "prices": hourly(tomorrow, ["0.31", "-0.02", "0.15"])}
    answer = api_as(world.alice).post(ahead_url(world), body, format="json")
    assert answer.status_code == 201, answer.content
    assert [row["price_per_kwh"] for row in answer.json()] == ["0.3100", "-0.0200", "0.1500"]
    assert {row["currency"] for row in answer.json()} == {"NOK"}

    listed = api_as(world.dora).get(
        ahead_url(world),
        {"from": tomorrow.date().isoformat(), "to": (tomorrow + timedelta(days=1)).isoformat()},
    )
    assert listed.status_code == 200, listed.content
    assert [row["start"] for row in listed.json()] == [row["start"] for row in answer.json()]


def test_reposting_a_covered_range_replaces_it(world: World) -> None:
    tomorrow = next_local_midnight()
    client = api_as(world.ingrid)
    client.post(ahead_url(world), hourly(tomorrow, ["0.30"] * 4), format="json")
    quarters = [
        {
            "start": (tomorrow + timedelta(hours=1, minutes=15 * i)).isoformat(),
            "end": (tomorrow + timedelta(hours=1, minutes=15 * (i + 1))).isoformat(),
            "price_per_kwh": f"0.1{i}",
        }
        for i in range(4)
    ]
    answer = client.post(ahead_url(world), quarters, format="json")  # the bare list
    assert answer.status_code == 201, answer.content
    stored = DayAheadPrice.objects.filter(installation=world.site_a).order_by("start")
    assert [(row.end - row.start, row.price_per_kwh) for row in stored] == [
        (timedelta(hours=1), Decimal("0.30")),
        *[(timedelta(minutes=15), Decimal(f"0.1{i}")) for i in range(4)],
        (timedelta(hours=1), Decimal("0.30")),
        (timedelta(hours=1), Decimal("0.30")),
    ]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda rows: rows.__setitem__(1, {**rows[1], "end": rows[1]["start"]}), "prices[1]",
         "duration must be positive"),
        (lambda rows: rows.__setitem__(1, {**rows[1], "end": rows[0]["start"]}), "prices[1]",
         "duration must be positive"),
        (lambda rows: rows.pop(1), "prices[1]", "gap"),
        (lambda rows: rows.__setitem__(2, {**rows[2], "start": rows[1]["start"]}), "prices[2]",
         "Overlaps prices[1]"),
        (lambda rows: rows.__setitem__(0, {**rows[0], "start": "2020-01-01T00:00:00+00:00",
                                           "end": "2020-01-01T01:00:00+00:00"}), "prices[0]",
         "passed"),
        (lambda rows: rows.__setitem__(0, {**rows[0], "end": rows[2]["end"]}), "prices[1]",
         "Overlaps"),
    ],
)  # fmt: skip
def test_a_bad_price_list_answers_400_naming_the_entry(
    world: World, change: object, field: str, words: str
) -> None:
    rows = hourly(next_local_midnight(), ["0.30", "0.31", "0.32"])
    change(rows)  # type: ignore[operator]
    answer = api_as(world.alice).post(ahead_url(world), {"prices": rows}, format="json")
    assert answer.status_code == 400, answer.content
    fields = error_fields(answer)
    assert field in fields, fields
    assert words in str(fields[field])
    assert not DayAheadPrice.objects.exists()


@pytest.mark.parametrize(
    ("price", "start"),
    [
        ("NaN", None),
        ("Infinity", None),
        ("-Infinity", None),
        ("abc", None),
        ("12345", None),  # beyond the column (9999.9999)
        ("0.30", "2026-12-05T00:00:00"),  # a time without its offset
        ("0.30", "tomorrow"),
    ],
)
def test_a_price_that_is_not_a_finite_number_or_a_bare_time_answers_400(
    world: World, price: str, start: str | None
) -> None:
    rows = hourly(next_local_midnight(), ["0.30", price])
    if start:
        rows[1]["start"] = start
    answer = api_as(world.alice).post(ahead_url(world), {"prices": rows}, format="json")
    assert answer.status_code == 400, answer.content
    assert "prices" in str(error_fields(answer))


def test_an_empty_list_or_no_list_answers_400(world: World) -> None:
    for body in ({"prices": []}, [], {}, {"prices": "x"}):
        answer = api_as(world.alice).post(ahead_url(world), body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert "prices" in error_fields(answer)


def test_posting_takes_operate_reading_takes_membership(world: World) -> None:
    rows = hourly(next_local_midnight(), ["0.30"])
    assert api_as(world.dora).post(ahead_url(world), rows, format="json").status_code == 404
    assert read_only(world.alice).post(ahead_url(world), rows, format="json").status_code == 403
    assert api_as(world.oscar).post(ahead_url(world), rows, format="json").status_code == 404
    assert api_as(world.oscar).get(ahead_url(world)).status_code == 404
    assert APIClient().get(ahead_url(world)).status_code in (401, 403)
    assert not DayAheadPrice.objects.exists()
    assert read_only(world.alice).get(ahead_url(world)).status_code == 200
    assert api_as(world.dave).get(ahead_url(world)).status_code == 200


def test_a_range_that_is_too_long_or_reversed_answers_400(world: World) -> None:
    client = api_as(world.alice)
    assert (
        client.get(ahead_url(world), {"from": "2026-01-01", "to": "2026-03-01"}).status_code == 400
    )
    assert (
        client.get(ahead_url(world), {"from": "2026-01-02", "to": "2026-01-01"}).status_code == 400
    )
    assert client.get(ahead_url(world), {"from": "soon"}).status_code == 400


# --- the tariff ------------------------------------------------------------------------------

PEAK = [
    {"day_type": "weekday", "start_time": "07:00", "end_time": "22:00", "price_per_kwh": "0.32"},
    {"day_type": "weekday", "start_time": "22:00", "end_time": "07:00", "price_per_kwh": "0.12"},
    {"day_type": "weekend", "start_time": "00:00", "end_time": "00:00", "price_per_kwh": "0.10"},
]


def test_an_owner_sets_a_tariff_and_a_driver_reads_it(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/tariff/"
    answer = api_as(world.alice).put(url, {"name": "Peak", "bands": PEAK}, format="json")
    assert answer.status_code == 200, answer.content
    body = api_as(world.dora).get(url).json()
    assert body["in_force"]["name"] == "Peak"
    assert body["in_force"]["currency"] == world.site_a.currency
    assert sorted(band["start_time"] for band in body["in_force"]["bands"]) == [
        "00:00",
        "07:00",
        "22:00",
    ]
    assert body["scheduled"] == []

    later = (timezone.now() + timedelta(days=3)).isoformat()
    scheduled = api_as(world.ingrid).put(
        url, {"effective_from": later, "bands": [], "currency": "EUR"}, format="json"
    )
    assert scheduled.status_code == 200, scheduled.content
    assert len(scheduled.json()["scheduled"]) == 1
    cancelled = api_as(world.alice).delete(url)
    assert cancelled.status_code == 200 and cancelled.json()["scheduled"] == []
    assert Tariff.objects.filter(installation=world.site_a).count() == 1  # history stays


def test_overlapping_bands_a_negative_price_or_a_past_start_answer_400(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/tariff/"
    client = api_as(world.alice)
    overlap = [*PEAK[:2], {**PEAK[0], "start_time": "06:00", "end_time": "08:00"}]
    answer = client.put(url, {"bands": overlap}, format="json")
    assert answer.status_code == 400
    assert "overlap" in str(error_fields(answer)["bands"])
    answer = client.put(url, {"bands": [{**PEAK[0], "price_per_kwh": "-0.1"}]}, format="json")
    assert answer.status_code == 400 and "bands[0]" in error_fields(answer)
    answer = client.put(
        url, {"bands": PEAK, "effective_from": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert answer.status_code == 400 and "effective_from" in error_fields(answer)
    answer = client.put(url, {"bands": PEAK, "currency": "euro"}, format="json")
    assert answer.status_code == 400
    assert not Tariff.objects.exists()


def test_a_tariff_takes_administer(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/tariff/"
    assert api_as(world.dora).put(url, {"bands": PEAK}, format="json").status_code == 404
    assert read_only(world.alice).put(url, {"bands": PEAK}, format="json").status_code == 403
    assert api_as(world.oscar).get(url).status_code == 404
    assert not Tariff.objects.exists()


def test_price_slots_follow_the_tariff_and_the_day_ahead_prices(world: World) -> None:
    client = api_as(world.alice)
    tariff_url = f"/api/v1/installations/{world.site_a.pk}/tariff/"
    assert client.put(tariff_url, {"bands": PEAK}, format="json").status_code == 200
    tomorrow = next_local_midnight()
    client.post(ahead_url(world), hourly(tomorrow + timedelta(hours=5), ["0.01"]), format="json")
    answer = client.get(
        f"/api/v1/installations/{world.site_a.pk}/price-slots/",
        {"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=1)).isoformat()},
    )
    assert answer.status_code == 200, answer.content
    slots = answer.json()
    assert len(slots) in (23, 24, 25)
    weekend = tomorrow.weekday() >= 5
    assert slots[5]["price_per_kwh"] == "0.0100" and slots[5]["source"] == "day_ahead"
    assert slots[4]["price_per_kwh"] == ("0.1000" if weekend else "0.1200")
    assert slots[12]["price_per_kwh"] == ("0.1000" if weekend else "0.3200")
    other = f"/api/v1/installations/{world.site_b.pk}/price-slots/"
    assert client.get(other).status_code == 404


# --- holidays --------------------------------------------------------------------------------


def test_holidays_are_added_listed_and_removed(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/holidays/"
    day = (timezone.now().astimezone(OSLO) + timedelta(days=10)).date()
    answer = api_as(world.alice).post(url, {"date": day.isoformat(), "name": "Founders"})
    assert answer.status_code == 201, answer.content
    again = api_as(world.alice).post(url, {"date": day.isoformat()})
    assert again.status_code == 400 and "date" in error_fields(again)
    past = api_as(world.alice).post(url, {"date": "2020-05-17"})
    assert past.status_code == 400 and "past" in str(error_fields(past)["date"])
    listed = api_as(world.dora).get(url, {"year": day.year})
    assert [(row["date"], row["name"]) for row in listed.json()] == [(day.isoformat(), "Founders")]
    assert api_as(world.dora).delete(f"{url}{day.isoformat()}/").status_code == 404
    assert api_as(world.oscar).get(url).status_code == 404
    assert api_as(world.alice).delete(f"{url}{day.isoformat()}/").status_code == 204
    assert api_as(world.alice).delete(f"{url}{day.isoformat()}/").status_code == 404
    assert not Holiday.objects.exists()
