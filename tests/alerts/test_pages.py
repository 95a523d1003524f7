"""Account > E-mail alerts: a card per installation the user belongs to, saving one, refusals
with a message, and nobody else's subscription."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from alerts.models import Subscription
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]
URL = "/accounts/alerts/"


def test_the_account_menu_leads_to_the_alerts(world: World, client_as: ClientAs) -> None:
    page = client_as(world.alice).get(reverse("api_tokens")).content.decode()
    assert f'href="{URL}"' in page


def test_a_card_per_installation_of_the_user(world: World, client_as: ClientAs) -> None:
    page = client_as(world.ingrid).get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Harbour car park" in text and "Office west" in text and "Depot north" not in text
    assert 'value="A1"' not in text  # chargers are offered by id with their names
    # whole words: a CSRF token's random letters may hold "B1"
    assert re.search(r"\bA1\b", text) and not re.search(r"\bB1\b", text)


def test_saving_a_card(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    client.get(URL)
    sub = Subscription.objects.get(user=world.alice)
    prefix = f"s{sub.pk}"
    answer = client.post(
        URL,
        {
            "subscription": sub.pk,
            f"{prefix}-enabled": "on",
            f"{prefix}-kinds": ["fault"],
            f"{prefix}-muted_chargers": [world.charger_a2.pk],
            f"{prefix}-offline_threshold_minutes": "45",
            f"{prefix}-delivery": "digest",
        },
    )
    assert answer.status_code == 302
    sub.refresh_from_db()
    assert (sub.kinds, sub.offline_threshold_minutes, sub.delivery) == (["fault"], 45, "digest")
    assert list(sub.muted_chargers.all()) == [world.charger_a2]


def test_bad_input_is_400_with_a_message(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    client.get(URL)
    sub = Subscription.objects.get(user=world.alice)
    prefix = f"s{sub.pk}"
    answer = client.post(
        URL,
        {
            "subscription": sub.pk,
            f"{prefix}-kinds": ["nonsense"],
            f"{prefix}-offline_threshold_minutes": "0",
            f"{prefix}-delivery": "immediate",
            f"{prefix}-muted_chargers": [world.charger_b1.pk],
        },
    )
    assert answer.status_code == 400
    text = answer.content.decode()
    assert "nonsense is not one of the available choices" in text
    assert "greater than or equal to 1" in text
    sub.refresh_from_db()
    assert sub.offline_threshold_minutes == 10


def test_another_users_subscription_is_404(world: World, client_as: ClientAs) -> None:
    client_as(world.alice).get(URL)
    alices = Subscription.objects.get(user=world.alice)
    for user in [world.ingrid, world.oscar]:
        answer = client_as(user).post(
            URL, {"subscription": alices.pk, f"s{alices.pk}-delivery": "digest"}
        )
        assert answer.status_code == 404
    assert client_as(world.oscar).post(URL, {"subscription": "x"}).status_code == 404
    alices.refresh_from_db()
    assert alices.delivery == "immediate"


def test_anonymous_is_sent_to_log_in(world: World) -> None:
    answer = Client().get(URL)
    assert answer.status_code == 302 and "login" in answer["Location"]


def test_the_page_says_where_alerts_go_or_that_they_cannot(
    world: World, client_as: ClientAs
) -> None:
    from allauth.account.models import EmailAddress

    assert "Alerts go to <strong>alice@example.com</strong>" in (
        client_as(world.alice).get(URL).content.decode()
    )
    EmailAddress.objects.filter(user=world.alice).update(verified=False)
    page = client_as(world.alice).get(URL).content.decode()
    assert "You have no verified e-mail address, so no alert can reach you." in page
