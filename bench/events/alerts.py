"""Alerts benchmark: a site outage of 1,000 chargers at once produces at most one e-mail per
subscriber per installation, within a minute of the offline threshold; and one recovery each.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-alerts -- \\
        .venv/bin/python -m bench.events.alerts

It starts a real SMTP server (aiosmtpd in a thread of this process) and a Celery worker
(``--concurrency=2``, as the demo) and beat sending through it (``EMAIL_HOST``/``EMAIL_PORT``
in their environment), and builds an installation with ``--chargers`` chargers, its owner and
``--installers`` installers (subscribed by default) and ``--drivers`` drivers (not), every
address verified. Then, in one transaction as the offline sweep does
(``events.services.emit_many``), every charger's ``charger.offline`` with a last contact
``--lead`` seconds short of the default 10-minute threshold. Everything after the commit is
production's path: the consumers (incidents, alerts) woken by the commit, the beat's
``alerts.tasks.check_and_send`` every ``ALERTS_CHECK_INTERVAL_S``, SMTP. When every subscriber
has their e-mail, every charger comes back (``charger.online``, one transaction) and the
recovery e-mails are awaited.

Prints the e-mails per subscriber (opening and recovery), the chargers each lists, any e-mail
before the threshold, and the delay from the threshold to each opening's arrival (and from
the recovery's commit to each recovery's arrival): p50 and max, in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import django

from bench.events.webhooks import ROOT, start_celery

OWNER = "owner@bench-alerts.test"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events.alerts", description=__doc__)
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--installers", type=int, default=9, help="besides the owner")
    parser.add_argument("--drivers", type=int, default=50)
    parser.add_argument("--lead", type=float, default=30.0, help="seconds before the threshold")
    parser.add_argument("--wait", type=float, default=180.0, help="seconds to wait for e-mails")
    parser.add_argument("--output", help="write the figures as JSON here")
    parser.add_argument("--var", default="var/bench-alerts", help="beat schedule, worker log")
    return parser.parse_args(argv)


class Inbox:
    """What the SMTP server took: (arrival time, recipient, subject, chargers listed)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str, str, int]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        text = message.get_body(("plain",)).get_content()
        listed = len(re.findall(r"^- ", text, flags=re.MULTILINE))
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received.append((arrived, recipient, str(message["Subject"]), listed))
        return "250 OK"

    def count(self, word: str) -> int:
        with self.lock:
            return sum(1 for r in self.received if word in r[2])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(args: argparse.Namespace) -> tuple[Any, list[int], list[str]]:
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from chargers.models import Charger
    from chargers.services import register_charger
    from installations.choices import Role
    from installations.models import Membership
    from installations.services import create_installation

    def person(email: str) -> Any:
        user = User.objects.create_user(email=email, password="bench-alerts")
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        return user

    owner = User.objects.filter(email=OWNER).first()
    if owner is None:
        owner = person(OWNER)
        site = create_installation(owner, name="Alert bench depot", main_fuse_a=40000)
        for n in range(args.chargers):
            register_charger(circuit=site.main_fuse, name=f"D{n}", ocpp_identity=f"BENCH-AL-{n}")
        for n in range(args.installers):
            Membership.objects.create(
                user=person(f"installer{n}@bench-alerts.test"),
                installation=site,
                role=Role.INSTALLER,
            )
        for n in range(args.drivers):
            Membership.objects.create(
                user=person(f"driver{n}@bench-alerts.test"), installation=site, role=Role.DRIVER
            )
    site = owner.memberships.first().installation
    ids = list(
        Charger.objects.filter(installation=site).order_by("pk").values_list("pk", flat=True)
    )
    subscribers = sorted(
        site.memberships.filter(role__in=[Role.OWNER, Role.INSTALLER]).values_list(
            "user__email", flat=True
        )
    )
    return site, ids, subscribers


def wait_for(inbox: Inbox, word: str, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while inbox.count(word) < count and time.monotonic() < deadline:
        time.sleep(0.2)


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "max": None}
    return {"p50": round(statistics.median(values), 2), "max": round(max(values), 2)}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from aiosmtpd.controller import Controller

    port = free_port()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), EMAIL_USE_TLS="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from alerts.models import DEFAULT_OFFLINE_THRESHOLD_MIN
    from events.consumers import CONSUMERS, run
    from events.services import Draft, emit_many

    call_command("migrate", verbosity=0)
    _site, charger_ids, subscribers = build(args)
    if len(charger_ids) < args.chargers:
        sys.exit(f"{args.var} holds a smaller site: use a new --var folder")
    for name in CONSUMERS:  # start from a caught-up outbox
        run(name, CONSUMERS[name], max_batches=10_000)

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    var_dir = ROOT / args.var
    var_dir.mkdir(parents=True, exist_ok=True)
    processes = start_celery(var_dir)
    try:
        threshold = timedelta(minutes=DEFAULT_OFFLINE_THRESHOLD_MIN)
        last_seen = timezone.now() - threshold + timedelta(seconds=args.lead)
        threshold_at = (last_seen + threshold).timestamp()
        with transaction.atomic():
            emit_many(
                Draft(
                    "charger.offline",
                    pk,
                    occurred_at=timezone.now(),
                    payload={"last_seen_at": last_seen.isoformat(), "grace_seconds": 120},
                )
                for pk in charger_ids[: args.chargers]
            )
        outage_committed = time.time()
        wait_for(inbox, "offline", len(subscribers), args.lead + args.wait)
        time.sleep(5)  # anything more would show here
        with transaction.atomic():
            emit_many(
                Draft("charger.online", pk, payload={"offline_seconds": 600})
                for pk in charger_ids[: args.chargers]
            )
        recovery_committed = time.time()
        wait_for(inbox, "recovered", len(subscribers), args.wait)
        time.sleep(5)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        smtp.stop()

    opened = [r for r in inbox.received if "offline" in r[2] and "recovered" not in r[2]]
    recovered = [r for r in inbox.received if "recovered" in r[2]]
    per_subscriber = Counter(r[1] for r in opened)
    figures = {
        "chargers": args.chargers,
        "subscribers": len(subscribers),
        "drivers_not_subscribed": args.drivers,
        "emails_total": len(inbox.received),
        "openings": len(opened),
        "openings_max_per_subscriber": max(per_subscriber.values(), default=0),
        "subscribers_without_opening": len(set(subscribers) - set(per_subscriber)),
        "recoveries": len(recovered),
        "recoveries_max_per_subscriber": max(Counter(r[1] for r in recovered).values(), default=0),
        "chargers_listed_per_opening": sorted({r[3] for r in opened}),
        "chargers_listed_per_recovery": sorted({r[3] for r in recovered}),
        "openings_before_threshold": sum(1 for r in opened if r[0] < threshold_at),
        "commit_to_threshold_s": round(threshold_at - outage_committed, 1),
        "threshold_to_opening_s": summary([r[0] - threshold_at for r in opened]),
        "recovery_commit_to_email_s": summary([r[0] - recovery_committed for r in recovered]),
        "subject": opened[0][2] if opened else None,
    }
    print(json.dumps(figures, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
