"""Fixtures of the alert tests: a real SMTP server (aiosmtpd in a thread) that keeps what it
was given, helpers that write events and run the consumers (incidents, then alerts), and the
web clients of tests/web.

Times are relative to now: incidents ended more than a day ago owe nothing any more, and an
offline incident's threshold is counted against the clock.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from events import consumers
from events.choices import EventType
from events.services import emit
from tests.web.conftest import (  # noqa: F401  (the pages' and browser tests' fixtures)
    browser,
    client_as,
    live_static,
    page,
    phone,
    screenshot,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Inbox:
    """What the SMTP server accepted, as parsed messages (with their envelope recipients)."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1:``port``, started and stopped at will (a mail server
    that goes down and comes back)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    """Django sends through real SMTP to a local server (not started yet: ``smtp.start()``)."""
    server = SmtpServer(free_port())
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


def ago(minutes: float) -> datetime:
    return timezone.now() - timedelta(minutes=minutes)


def offline(charger_id: int, last_seen: datetime) -> None:
    emit(
        EventType.CHARGER_OFFLINE,
        charger_id=charger_id,
        occurred_at=last_seen + timedelta(minutes=2),
        payload={"last_seen_at": last_seen.isoformat(), "grace_seconds": 120},
    )


def online(charger_id: int, at: datetime | None = None) -> None:
    emit(
        EventType.CHARGER_ONLINE,
        charger_id=charger_id,
        occurred_at=at or timezone.now(),
        payload={"offline_seconds": 60},
    )


def fault(charger_id: int, connector: int, at: datetime, code: str = "GroundFailure") -> None:
    emit(
        EventType.CONNECTOR_FAULTED,
        charger_id=charger_id,
        connector_id=connector,
        occurred_at=at,
        payload={"status": "Faulted", "error_code": code, "vendor_error_code": ""},
    )


def recovered(charger_id: int, connector: int, at: datetime | None = None) -> None:
    emit(
        EventType.CONNECTOR_RECOVERED,
        charger_id=charger_id,
        connector_id=connector,
        occurred_at=at or timezone.now(),
        payload={"status": "Available"},
    )


def run() -> None:
    """The consumers read what is new: incidents first, then alerts."""
    consumers.run_all()


Emit = Callable[..., None]
