"""The signed unsubscribe link: GET asks (and changes nothing), POST unsubscribes, the one-click
POST of a mail client works without login or CSRF token, a bad signature is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from alerts import outbox, unsubscribe
from alerts.models import AlertMail, Subscription
from tests.alerts.conftest import ago, offline, run
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def link_of(message: Any) -> str:
    return message.extra_headers["List-Unsubscribe"].strip("<>").split("://", 1)[1].split("/", 1)[1]


def test_the_emails_link_asks_then_unsubscribes_and_no_more_alerts_come(world: World) -> None:
    offline(world.charger_a1.pk, ago(20))
    run()
    outbox.send_due()
    alice_mail = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    path = "/" + link_of(alice_mail)
    client = Client()  # not logged in
    page = client.get(path)
    assert page.status_code == 200 and b"Harbour car park" in page.content
    assert not Subscription.objects.filter(user=world.alice, enabled=False).exists()

    done = client.post(path)
    assert done.status_code == 200 and b"Unsubscribed" in done.content
    assert Subscription.objects.get(user=world.alice, installation=world.site_a).enabled is False
    assert client.post(path).status_code == 200  # twice: the same

    offline(world.charger_a2.pk, ago(20))
    offline(world.charger_b1.pk, ago(20))
    from alerts import services
    from events.choices import EventType
    from events.services import emit

    emit(EventType.CHARGER_ONLINE, charger_id=world.charger_a1.pk, payload={"offline_seconds": 1})
    emit(EventType.CHARGER_ONLINE, charger_id=world.charger_a2.pk, payload={"offline_seconds": 1})
    run()
    services.evaluate_incidents()
    outbox.send_due()
    assert [m for m in mail.outbox if m.to == ["alice@example.com"]] == [alice_mail]


def test_the_one_click_post_of_a_mail_client_needs_no_login_and_no_csrf(world: World) -> None:
    path = "/" + unsubscribe.url_for(world.ingrid.pk, world.site_a.pk).split("/", 3)[3]
    client = Client(enforce_csrf_checks=True)
    answer = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    ingrid = Subscription.objects.get(user=world.ingrid, installation=world.site_a)
    assert ingrid.enabled is False
    assert (
        Subscription.objects.filter(user=world.ingrid, installation=world.site_c).exists() is False
    )


def test_the_digest_link_stops_every_installation(world: World) -> None:
    path = "/" + unsubscribe.url_for(world.ingrid.pk, None).split("/", 3)[3]
    Client().post(path)
    assert set(
        Subscription.objects.filter(user=world.ingrid).values_list("installation", "enabled")
    ) == {(world.site_a.pk, False), (world.site_c.pk, False)}


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        unsubscribe.make_token(1, 1)[:-3] + "abc",
        "eyJ1IjoxLCJpIjoxfQ:1tXyZa:forged-signature-value-0000000000",
    ],
)
def test_a_bad_signature_is_refused(world: World, token: str) -> None:
    client = Client()
    assert client.get(f"/alerts/unsubscribe/{token}/").status_code == 400
    assert client.post(f"/alerts/unsubscribe/{token}/").status_code == 400
    assert not Subscription.objects.filter(enabled=False).exists()


def test_a_token_signed_for_something_else_is_refused(world: World) -> None:
    from django.core import signing

    other = signing.dumps({"u": world.alice.pk, "i": world.site_a.pk}, salt="another.purpose")
    assert Client().post(f"/alerts/unsubscribe/{other}/").status_code == 400
    assert not AlertMail.objects.exists()
