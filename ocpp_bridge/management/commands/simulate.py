"""``python manage.py simulate``: simulated chargers with cars, talking OCPP 1.6 to the bridge.

``--demo`` simulates every charger in the database (identity, phases, rotation, currents and
connectors as registered, the installation's failsafe current) with the demo chargers' OCPP
password; drivers present the charge cards registered in the database (plus a few unknown ones).
Without ``--demo``, ``--count`` synthetic chargers ``--prefix``NNNNN with ``--password``.
The demo supervisor runs ``manage.py simulate --demo``; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import logging
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ocpp_bridge.simulator.cli import (
    add_simulation_arguments,
    configure_logging,
    run_fleet,
    settings_from_args,
)
from ocpp_bridge.simulator.fleet import synthetic_specs
from ocpp_bridge.simulator.settings import DEFAULT_CARDS
from ocpp_bridge.simulator.station import ChargerSpec
from portal.demo import DEMO_CHARGER_PASSWORD

log = logging.getLogger("ocpp_bridge.simulator")


def default_url() -> str:
    host = settings.OCPP_BRIDGE_HOST
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"ws://{host}:{settings.OCPP_BRIDGE_PORT}/ocpp"


def specs_from_database(
    password: str, prefix: str = "", limit: int | None = None
) -> list[ChargerSpec]:
    """Every registered charger (optionally those whose identity starts with ``prefix``)."""
    from django.db.models import Count

    from chargers.models import Charger

    chargers = (
        Charger.objects.filter(ocpp_identity__startswith=prefix)
        .select_related("installation")
        .annotate(connector_count=Count("connectors"))
        .order_by("ocpp_identity")
    )
    if limit is not None:
        chargers = chargers[:limit]
    return [
        ChargerSpec(
            identity=c.ocpp_identity,
            password=password,
            phases=c.phases,
            phase_rotation=c.phase_rotation,
            connectors=max(1, c.connector_count),
            min_current_a=c.min_current_a,
            max_current_a=c.max_current_a,
            failsafe_current_a=c.installation.failsafe_current_a,
            vendor=c.vendor or "Fusebox",
            model=c.model or "SimCharger",
            firmware_version=c.firmware_version or "1.0.0",
            serial_number=c.serial_number or f"SN-{c.ocpp_identity}",
        )
        for c in chargers
    ]


def cards_from_database() -> tuple[str, ...]:
    """The registered charge cards, plus a few the central system does not know."""
    from auth_access.models import ChargeCard

    known = tuple(ChargeCard.objects.filter(is_blocked=False).values_list("id_tag", flat=True))
    return known + DEFAULT_CARDS[:3] if known else DEFAULT_CARDS


class Command(BaseCommand):
    help = "Simulate OCPP 1.6 chargers with cars (all the database's with --demo)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--demo", action="store_true", help="the database's chargers")
        parser.add_argument("--prefix", default="", help="identity prefix (synthetic: SIM-)")
        parser.add_argument("--count", type=int, default=None, help="how many chargers")
        parser.add_argument("--first", type=int, default=1, help="first synthetic number")
        parser.add_argument("--password", default=None, help="OCPP password of every charger")
        add_simulation_arguments(parser, url=default_url())

    def handle(self, *args: Any, **options: Any) -> None:
        configure_logging(options["log_level"])
        if options["demo"]:
            password = options["password"] or DEMO_CHARGER_PASSWORD
            specs = specs_from_database(password, options["prefix"], options["count"])
            while not specs:  # the supervisor restarts what exits: wait for chargers instead
                log.info("no chargers in the database yet; looking again in 10 s")
                time.sleep(10)
                specs = specs_from_database(password, options["prefix"], options["count"])
            cards = cards_from_database()
        else:
            specs = synthetic_specs(
                options["prefix"] or "SIM-",
                options["first"],
                options["count"] or 10,
                options["password"] or "",
            )
            cards = ()

        class Namespace:
            def __init__(self, values: dict[str, Any]) -> None:
                self.__dict__.update(values)

        arguments = Namespace(options)
        run_fleet(specs, settings_from_args(arguments, cards), arguments)  # type: ignore[arg-type]
