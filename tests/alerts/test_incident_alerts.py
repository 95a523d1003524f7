"""Incident alerts through Django's locmem backend: one e-mail when an incident opens (an
offline one once it is older than the threshold), one when it recovers, one listing every
charger of a site that failed together; nothing for muted chargers, unsubscribed users,
unverified addresses or other tenants; the rate limit and the daily digest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts import outbox, services
from alerts.choices import AlertKind, DeliveryMode, MailStatus
from alerts.models import AlertMail, Subscription
from chargers.services import register_charger
from installations.choices import Role
from installations.models import Membership
from tests.alerts.conftest import ago, fault, offline, online, recovered, run
from tests.conftest import World

# The consumers read only committed transactions: every test commits.
pytestmark = pytest.mark.django_db(transaction=True)


def sent_to(address: str) -> list[Any]:
    return [message for message in mail.outbox if message.to == [address]]


def subscription(user: Any, installation: Any, **changes: Any) -> Subscription:
    services.ensure_subscriptions(user)
    sub = Subscription.objects.get(user=user, installation=installation)
    for name, value in changes.items():
        setattr(sub, name, value)
    sub.save()
    return sub


def test_an_offline_charger_is_alerted_once_past_the_threshold_and_once_at_recovery(
    world: World,
) -> None:
    offline(world.charger_a1.pk, ago(3))
    run()
    outbox.send_due()
    assert mail.outbox == []  # 3 minutes: under the default 10

    services.evaluate_incidents(now=timezone.now() + timedelta(minutes=8))
    outbox.send_due()
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "ingrid@example.com"]
    opened = sent_to("alice@example.com")[0]
    assert opened.subject == "[Fusebox] Harbour car park: A1 offline"
    assert "A1" in opened.body and "offline" in opened.body
    html, mimetype = opened.alternatives[0]
    assert mimetype == "text/html" and "A1" in html
    assert opened.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert opened.extra_headers["List-Unsubscribe"].startswith("<http")

    for _ in range(2):  # the beat and the consumer again: nothing new
        services.evaluate_incidents(now=timezone.now() + timedelta(minutes=9))
        run()
        outbox.send_due()
    assert len(mail.outbox) == 2

    online(world.charger_a1.pk)
    run()
    outbox.send_due()
    assert len(mail.outbox) == 4
    recovery = sent_to("alice@example.com")[1]
    assert "recovered" in recovery.subject and "back online" in recovery.subject
    services.evaluate_incidents()
    outbox.send_due()
    assert len(mail.outbox) == 4


def test_a_charger_back_before_the_threshold_is_never_alerted(world: World) -> None:
    offline(world.charger_a1.pk, ago(4))
    run()
    online(world.charger_a1.pk)
    run()
    services.evaluate_incidents(now=timezone.now() + timedelta(minutes=30))
    outbox.send_due()
    assert mail.outbox == []


def test_a_site_outage_is_one_email_listing_its_chargers(world: World) -> None:
    chargers = [world.charger_a1, world.charger_a2]
    for n in range(3, 9):
        charger, _ = register_charger(circuit=world.main_a, name=f"A{n}", ocpp_identity=f"H-A{n}")
        chargers.append(charger)
    last_seen = ago(15)
    for charger in chargers:
        offline(charger.pk, last_seen)
    run()
    outbox.send_due()
    (alice,) = sent_to("alice@example.com")
    assert alice.subject == "[Fusebox] Harbour car park: 8 chargers offline"
    for n in range(1, 9):
        assert f"- A{n}" in alice.body
    assert len(mail.outbox) == 2  # alice and ingrid, one each

    for charger in chargers:
        online(charger.pk)
    run()
    outbox.send_due()
    assert len(sent_to("alice@example.com")) == 2


def test_a_fault_is_alerted_at_once_and_a_fault_cleared_at_once_is_one_email(
    world: World,
) -> None:
    fault(world.charger_a2.pk, 2, ago(1), "GroundFailure")
    run()
    outbox.send_due()
    (opened,) = sent_to("alice@example.com")
    assert opened.subject == "[Fusebox] Harbour car park: A2 connector 2 fault: GroundFailure"
    recovered(world.charger_a2.pk, 2)
    run()
    outbox.send_due()
    assert "fault cleared" in sent_to("alice@example.com")[1].subject

    fault(world.charger_a1.pk, 1, ago(0.5), "OverCurrentFailure")
    recovered(world.charger_a1.pk, 1)
    run()
    outbox.send_due()
    (cleared,) = [m for m in sent_to("alice@example.com") if "A1" in m.subject]
    assert cleared.subject == "[Fusebox] Harbour car park: fault on A1, cleared"


def test_a_driver_never_hears_of_the_installations_incidents(world: World) -> None:
    """Not by choosing a fault kind (refused), nor with one saved before a demotion."""
    sub = subscription(world.dave, world.site_a)
    sub.kinds = ["fault", "session_finished"]
    with pytest.raises(ValidationError, match="owners and installers"):
        sub.full_clean()
    Subscription.objects.filter(pk=sub.pk).update(kinds=["fault", "offline"])  # as if demoted
    ingrid = Membership.objects.get(user=world.ingrid, installation=world.site_a)
    subscription(world.ingrid, world.site_a)
    ingrid.role = Role.DRIVER
    ingrid.save()
    fault(world.charger_a2.pk, 2, ago(1), "GroundFailure")
    run()
    outbox.send_due()
    assert sent_to("alice@example.com") != []
    assert sent_to("dave@example.com") == [] and sent_to("ingrid@example.com") == []


def test_muted_chargers_are_left_out_and_a_muted_incident_is_not_sent(world: World) -> None:
    sub = subscription(world.alice, world.site_a)
    sub.muted_chargers.add(world.charger_a1)
    offline(world.charger_a1.pk, ago(20))
    run()
    outbox.send_due()
    assert sent_to("alice@example.com") == [] and len(sent_to("ingrid@example.com")) == 1

    offline(world.charger_a2.pk, ago(20))  # joins the incident: alice hears of A2 only
    run()
    outbox.send_due()
    (alice,) = sent_to("alice@example.com")
    assert alice.subject == "[Fusebox] Harbour car park: A2 offline"
    assert "A1" not in alice.body
    assert len(sent_to("ingrid@example.com")) == 1  # told once, when A1 went


def test_unsubscribed_users_and_kinds_not_asked_for_get_nothing(world: World) -> None:
    subscription(world.alice, world.site_a, enabled=False)
    subscription(world.ingrid, world.site_a, kinds=[AlertKind.FAULT])
    offline(world.charger_a1.pk, ago(20))
    run()
    outbox.send_due()
    assert mail.outbox == []
    fault(world.charger_a1.pk, 1, ago(1))
    run()
    outbox.send_due()
    assert [m.to[0] for m in mail.outbox] == ["ingrid@example.com"]


def test_an_unverified_address_gets_nothing(world: World) -> None:
    EmailAddress.objects.filter(user=world.ingrid).update(verified=False)
    offline(world.charger_a1.pk, ago(20))
    run()
    outbox.send_due()
    assert [m.to[0] for m in mail.outbox] == ["alice@example.com"]
    assert not AlertMail.objects.filter(user=world.ingrid).exists()


def test_alerts_reach_only_members_of_the_installation(world: World) -> None:
    offline(world.charger_b1.pk, ago(20))
    offline(world.charger_a1.pk, ago(20))
    run()
    outbox.send_due()
    by_address = {m.to[0]: m.subject for m in mail.outbox}
    assert by_address == {
        "oscar@example.com": "[Fusebox] Depot north: B1 offline",
        "alice@example.com": "[Fusebox] Harbour car park: A1 offline",
        "ingrid@example.com": "[Fusebox] Harbour car park: A1 offline",
    }  # drivers get no incident alerts by default; nobody hears of another tenant's site


def test_an_opted_in_driver_hears_of_their_own_session_only(world: World) -> None:
    from events.choices import EventType
    from events.services import emit

    subscription(
        world.dora,
        world.site_a,
        kinds=[AlertKind.SESSION_FINISHED, AlertKind.SESSION_STOPPED_UNEXPECTEDLY],
    )

    def stopped(session_id: int, driver_id: int, reason: str, inferred: bool = False) -> None:
        emit(
            EventType.SESSION_STOPPED,
            charger_id=world.charger_a1.pk,
            connector_id=1,
            occurred_at=timezone.now(),
            payload={
                "session_id": session_id,
                "energy_wh": 12_345,
                "stop_reason": reason,
                "inferred": inferred,
                "driver_id": driver_id,
            },
        )

    stopped(1, world.dora.pk, "EVDisconnected")
    stopped(2, world.dora.pk, "PowerLoss")
    stopped(3, world.dave.pk, "Local")  # dave did not opt in
    stopped(4, world.oscar.pk, "Local")  # not a member of this installation
    run()
    run()
    outbox.send_due()
    subjects = sorted(m.subject for m in mail.outbox)
    assert [m.to[0] for m in mail.outbox] == ["dora@example.com"] * 2
    assert subjects == [
        "[Fusebox] Harbour car park: your charging session finished",
        "[Fusebox] Harbour car park: your charging session stopped unexpectedly",
    ]
    assert "12.35 kWh" in mail.outbox[0].body


def test_past_the_rate_limit_alerts_wait_for_the_digest(world: World, settings: Any) -> None:
    settings.ALERTS_RATE_LIMIT_PER_HOUR = 2
    settings.EVENTS_INCIDENT_WINDOW_S = 0  # three separate incidents
    subscription(world.ingrid, world.site_a, enabled=False)
    for minutes, charger, connector in [
        (30, world.charger_a1, 1),
        (20, world.charger_a2, 2),
        (10, world.charger_a2, 1),
    ]:
        fault(charger.pk, connector, ago(minutes), f"Code{minutes}")
        run()
    outbox.send_due()
    assert len(mail.outbox) == 2
    held = AlertMail.objects.get(status=MailStatus.HELD)
    assert "Code10" in held.subject

    assert services.send_digests() == 1
    assert services.send_digests() == 0  # once a day
    outbox.send_due()
    digest = mail.outbox[-1]
    assert digest.subject == "[Fusebox] Your alerts digest: 1 alert"
    assert "Code10" in digest.body and "Code10" in digest.alternatives[0][0]
    held.refresh_from_db()
    assert held.status == MailStatus.DIGESTED and held.digest is not None


def test_digest_subscribers_get_one_email_a_day(world: World) -> None:
    subscription(world.alice, world.site_a, delivery=DeliveryMode.DIGEST)
    offline(world.charger_a1.pk, ago(20))
    run()
    online(world.charger_a1.pk)
    run()
    outbox.send_due()
    assert [m.to[0] for m in mail.outbox] == ["ingrid@example.com"] * 2
    mail.outbox.clear()
    services.send_digests()
    outbox.send_due()
    (digest,) = mail.outbox
    assert digest.to == ["alice@example.com"] and "2 alerts" in digest.subject
    assert "A1 offline" in digest.body and "back online" in digest.body


def test_the_beat_leaves_incidents_open_for_days_alone_and_the_consumer_does_not(
    world: World,
) -> None:
    from events.models import Incident, IncidentCharger

    started = ago(3 * 24 * 60)
    incident = Incident.objects.create(
        installation=world.site_a, kind="offline", started_at=started, summary="A1 offline"
    )
    IncidentCharger.objects.create(incident=incident, charger=world.charger_a1, started_at=started)
    assert services.evaluate_incidents() == 0  # every threshold passed long ago
    assert services.evaluate_incidents([world.site_a.pk]) == 2  # something happened there


def test_a_member_who_left_hears_nothing_more(world: World) -> None:
    from installations.models import Membership

    subscription(world.ingrid, world.site_a)  # a saved subscription outlives the membership
    Membership.objects.filter(user=world.ingrid, installation=world.site_a).delete()
    offline(world.charger_a1.pk, ago(20))
    run()
    outbox.send_due()
    assert [m.to[0] for m in mail.outbox] == ["alice@example.com"]


def test_old_news_is_not_sent(world: World) -> None:
    """The consumer's first run reads the whole outbox: a fault cleared and a session ended
    hours ago are history, not alerts; an incident still open is news."""
    from events.choices import EventType
    from events.models import Event
    from events.services import emit

    subscription(world.dora, world.site_a, kinds=[AlertKind.SESSION_FINISHED])
    fault(world.charger_a1.pk, 1, ago(180))
    recovered(world.charger_a1.pk, 1, ago(170))
    emit(
        EventType.SESSION_STOPPED,
        charger_id=world.charger_a1.pk,
        occurred_at=ago(120),
        payload={"session_id": 7, "energy_wh": 1, "stop_reason": "Local", "inferred": False,
                 "driver_id": world.dora.pk},
    )  # fmt: skip
    offline(world.charger_a2.pk, ago(240))
    Event.objects.update(recorded_at=ago(120))
    run()
    outbox.send_due()
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("alice@example.com", "[Fusebox] Harbour car park: A2 offline"),
        ("ingrid@example.com", "[Fusebox] Harbour car park: A2 offline"),
    ]
