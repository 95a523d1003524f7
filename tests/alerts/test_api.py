"""``/api/v1/alert-subscriptions/``: your own subscriptions only, at installations you are a
member of; others' are 404; bad input 400 with a message; in the OpenAPI schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api_tokens import create_token
from alerts.models import Subscription
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db

URL = "/api/v1/alert-subscriptions/"


def test_listing_shows_your_own_with_your_roles_defaults(world: World) -> None:
    alice = api_as(world.alice).get(URL).json()["results"]
    assert [(s["installation"], s["kinds"], s["enabled"]) for s in alice] == [
        (world.site_a.pk, ["fault", "offline", "overload"], True)
    ]
    assert alice[0]["offline_threshold_minutes"] == 10 and alice[0]["delivery"] == "immediate"
    dora = api_as(world.dora).get(URL).json()["results"]
    assert [(s["installation"], s["kinds"]) for s in dora] == [(world.site_a.pk, [])]
    ingrid = api_as(world.ingrid).get(URL).json()["results"]
    assert sorted(s["installation"] for s in ingrid) == sorted([world.site_a.pk, world.site_c.pk])


def test_a_read_only_token_lists_the_defaults_without_saving_them(world: World) -> None:
    _, key = create_token(world.ingrid, "Wallboard", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = client.get(URL).json()["results"]
    assert [(s["id"], s["installation"], s["kinds"]) for s in listed] == [
        (None, world.site_a.pk, ["fault", "offline", "overload"]),
        (None, world.site_c.pk, ["fault", "offline", "overload"]),
    ]
    assert listed[0]["muted_chargers"] == [] and listed[0]["delivery"] == "immediate"
    only_c = client.get(URL, {"installation": world.site_c.pk}).json()["results"]
    assert [s["installation"] for s in only_c] == [world.site_c.pk]
    assert client.get(URL, {"enabled": "false"}).json()["results"] == []
    assert not Subscription.objects.filter(user=world.ingrid).exists()

    api_as(world.ingrid).get(URL)  # a full token's listing makes them
    saved = client.get(URL).json()["results"]
    assert all(s["id"] is not None for s in saved) and len(saved) == 2


def test_you_change_your_own(world: World) -> None:
    client = api_as(world.dora)
    (sub,) = client.get(URL).json()["results"]
    answer = client.patch(
        f"{URL}{sub['id']}/",
        {
            "kinds": ["session_finished", "session_interrupted"],
            "muted_chargers": [world.charger_a2.pk],
            "offline_threshold_minutes": 30,
            "delivery": "digest",
        },
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    stored = Subscription.objects.get(pk=sub["id"])
    assert stored.kinds == ["session_finished", "session_interrupted"]
    assert list(stored.muted_chargers.all()) == [world.charger_a2]
    assert (stored.offline_threshold_minutes, stored.delivery) == (30, "digest")


def test_a_driver_cannot_choose_the_installations_incidents(world: World) -> None:
    client = api_as(world.dora)
    (sub,) = client.get(URL).json()["results"]
    answer = client.patch(f"{URL}{sub['id']}/", {"kinds": ["fault"]}, format="json")
    assert answer.status_code == 400
    assert "owners and installers" in str(answer.json())
    assert Subscription.objects.get(pk=sub["id"]).kinds != ["fault"]


def test_nobody_else_reaches_a_subscription(world: World) -> None:
    (sub,) = api_as(world.alice).get(URL).json()["results"]
    for user in [world.ingrid, world.oscar, world.dora]:
        client = api_as(user)
        assert client.get(f"{URL}{sub['id']}/").status_code == 404
        assert (
            client.patch(f"{URL}{sub['id']}/", {"enabled": False}, format="json").status_code == 404
        )
        assert client.delete(f"{URL}{sub['id']}/").status_code == 404
    assert APIClient().get(URL).status_code in (401, 403)
    assert Subscription.objects.get(pk=sub["id"]).enabled is True


def test_a_subscription_at_an_installation_you_are_not_a_member_of_is_refused(
    world: World,
) -> None:
    answer = api_as(world.oscar).post(URL, {"installation": world.site_a.pk}, format="json")
    assert answer.status_code == 400
    assert "installation" in answer.json()["error"]["fields"]
    assert not Subscription.objects.filter(user=world.oscar, installation=world.site_a).exists()


def test_you_create_one_and_a_second_for_the_same_installation_is_refused(world: World) -> None:
    client = api_as(world.dave)
    made = client.post(
        URL, {"installation": world.site_a.pk, "kinds": ["session_finished"]}, format="json"
    )
    assert made.status_code == 201, made.json()
    assert made.json()["kinds"] == ["session_finished"]
    again = client.post(URL, {"installation": world.site_a.pk}, format="json")
    assert again.status_code == 400
    assert "already" in again.json()["error"]["fields"]["installation"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kinds": ["sms"]}, "kinds"),
        ({"kinds": "fault"}, "kinds"),
        ({"offline_threshold_minutes": 0}, "offline_threshold_minutes"),
        ({"offline_threshold_minutes": 100000}, "offline_threshold_minutes"),
        ({"offline_threshold_minutes": "soon"}, "offline_threshold_minutes"),
        ({"delivery": "pigeon"}, "delivery"),
        ({"muted_chargers": [999999]}, "muted_chargers"),
        ({"installation": 999999}, "installation"),
    ],
)
def test_bad_input_is_400_with_a_message(world: World, change: dict, field: str) -> None:
    client = api_as(world.alice)
    (sub,) = client.get(URL).json()["results"]
    answer = client.patch(f"{URL}{sub['id']}/", change, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid" and error["fields"][field]


def test_a_charger_of_another_installation_cannot_be_muted(world: World) -> None:
    client = api_as(world.ingrid)
    subs = {s["installation"]: s for s in client.get(URL).json()["results"]}
    answer = client.patch(
        f"{URL}{subs[world.site_a.pk]['id']}/",
        {"muted_chargers": [world.charger_b1.pk]},
        format="json",
    )
    assert answer.status_code == 400
    (message,) = answer.json()["error"]["fields"]["muted_chargers"]
    assert message.startswith("Not chargers of this installation")


def test_the_resource_is_in_the_openapi_schema(world: World) -> None:
    schema = api_as(world.alice).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/alert-subscriptions/{id}/" in schema.content.decode()


def test_a_token_limited_to_one_installation_reaches_only_that_subscription(
    world: World,
) -> None:
    from accounts.api_tokens import create_token

    _, key = create_token(world.ingrid, "office only", installations=[world.site_c])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = client.get(URL).json()["results"]
    assert [s["installation"] for s in listed] == [world.site_c.pk]
    harbour = Subscription.objects.get(user=world.ingrid, installation=world.site_a)
    assert client.get(f"{URL}{harbour.pk}/").status_code == 404
