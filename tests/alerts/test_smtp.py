"""Alert e-mails through a real SMTP server (aiosmtpd on 127.0.0.1): what arrives (parts,
headers, the envelope), and a mail server that is down: the e-mail waits, is retried with
backoff and arrives once when the server is back, never twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from alerts import outbox
from alerts.choices import MailStatus
from alerts.models import AlertMail
from tests.alerts.conftest import SmtpServer, ago, fault, offline, run
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_alert_arrives_over_smtp_with_both_parts_and_the_unsubscribe_headers(
    world: World, smtp: SmtpServer
) -> None:
    smtp.start()
    offline(world.charger_a1.pk, ago(20))
    run()
    assert outbox.send_due() == 2
    assert sorted(r[0] for r in smtp.inbox.recipients) == [
        "alice@example.com",
        "ingrid@example.com",
    ]
    message = next(m for m in smtp.inbox.messages if m["To"] == "alice@example.com")
    assert message["Subject"] == "[Fusebox] Harbour car park: A1 offline"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "A1" in text and "<td>A1" in html
    stored = AlertMail.objects.get(user=world.alice)
    assert message["List-Unsubscribe"].strip() == f"<{stored.unsubscribe_url}>"  # may be folded
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == stored.message_id
    assert stored.unsubscribe_url in text
    assert (stored.status, stored.attempts) == (MailStatus.SENT, 1)


def test_a_mail_server_that_is_down_delays_the_alert_until_it_is_back_then_sends_it_once(
    world: World, smtp: SmtpServer
) -> None:
    offline(world.charger_a1.pk, ago(20))
    run()
    assert outbox.send_due() == 0  # nothing listens on the port
    mails = list(AlertMail.objects.order_by("id"))
    assert len(mails) == 2
    for mail in mails:
        assert mail.status == MailStatus.PENDING and mail.attempts == 1
        assert "Connection" in mail.last_error or "refused" in mail.last_error
        assert mail.next_attempt_at > timezone.now() + timedelta(seconds=10)
    assert outbox.send_due() == 0  # not due yet: no attempt
    assert AlertMail.objects.filter(attempts=1).count() == 2

    later = timezone.now() + timedelta(seconds=31)
    assert outbox.send_due(now=later) == 0  # still down: the second attempt waits longer
    second = AlertMail.objects.order_by("id").first()
    assert second.attempts == 2 and second.next_attempt_at > later + timedelta(seconds=59)

    smtp.start()
    much_later = timezone.now() + timedelta(hours=1)
    assert outbox.send_due(now=much_later) == 2
    assert outbox.send_due(now=much_later + timedelta(hours=1)) == 0
    assert len(smtp.inbox.messages) == 2
    assert set(AlertMail.objects.values_list("status", "attempts")) == {(MailStatus.SENT, 3)}


def test_two_senders_at_once_never_send_the_same_email(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    offline(world.charger_a1.pk, ago(20))
    run()
    first = outbox.claim(timezone.now())
    assert len(first) == 2
    assert outbox.claim(timezone.now()) == []  # leased to the first sender
    assert outbox.send_due() == 0
    # The first sender died: its lease lapses and another sends, once.
    after_lease = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    assert outbox.send_due(now=after_lease) == 2
    assert len(smtp.inbox.messages) == 2


def test_an_email_is_given_up_after_every_retry_and_says_why(
    world: World, smtp: SmtpServer
) -> None:
    offline(world.charger_a1.pk, ago(20))
    run()
    at = timezone.now()
    for _ in range(len(outbox.RETRY_SCHEDULE_S) + 1):
        outbox.send_due(now=at)
        at += timedelta(days=1)
    assert set(AlertMail.objects.values_list("status", flat=True)) == {MailStatus.FAILED}
    assert all(m.last_error for m in AlertMail.objects.all())


def test_one_run_sends_everything_due_a_claim_at_a_time(
    world: World, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "CLAIM_BATCH", 1)
    smtp.start()
    offline(world.charger_a1.pk, ago(20))
    fault(world.charger_a2.pk, 1, ago(1))
    run()
    assert outbox.send_due() == 4
    assert len(smtp.inbox.messages) == 4


class TakesNothing(BaseEmailBackend):
    """A backend that answers 'sent none' without an error."""

    def send_messages(self, email_messages: Any) -> int:
        return 0


def test_an_email_the_backend_did_not_take_is_not_recorded_sent(
    world: World, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "tests.alerts.test_smtp.TakesNothing"
    offline(world.charger_a1.pk, ago(20))
    run()
    assert outbox.send_due() == 0
    for mail in AlertMail.objects.all():
        assert (mail.status, mail.attempts) == (MailStatus.PENDING, 1)
        assert "took nothing" in mail.last_error
