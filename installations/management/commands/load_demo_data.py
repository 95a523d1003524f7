"""Create the demo's users, installations, fuse trees and chargers (idempotent: a second run does nothing)."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from auth_access.models import ChargeCard, ChargerPermission
from chargers.models import Charger
from chargers.services import register_charger
from installations.choices import AuthorizationMode, Role
from installations.models import Circuit, Membership
from installations.services import create_installation
from portal.demo import DEMO_CHARGER_PASSWORD, DEMO_PASSWORD, DEMO_UPSTREAM_URL, USERS
from upstream.models import UpstreamSettings

# (installation, fields, main fuse A, [(circuit, A, [(charger name, phases, rotation, max A)])])
SITES: list[tuple[str, dict[str, Any], float, list[tuple[str, float, list[tuple[str, int, str, float]]]]]] = [
    (
        "Solbakken housing cooperative",
        {"address": "Solbakkveien 12, 0580 Oslo", "time_zone": "Europe/Oslo", "network_type": "IT",
         "authorization_mode": AuthorizationMode.LOCKED, "price_per_kwh": "2.50", "currency": "NOK"},
        100,
        [
            ("Garage row A", 40, [("A-01", 3, "L1L2L3", 16), ("A-02", 3, "L2L3L1", 16), ("A-03", 3, "L3L1L2", 16),
                                  ("A-04", 1, "L1L2L3", 32)]),
            ("Garage row B", 40, [("B-01", 3, "L1L2L3", 16), ("B-02", 1, "L2L3L1", 32), ("B-03", 1, "L3L1L2", 32),
                                  ("B-04", 3, "L2L3L1", 16)]),
            ("Visitor parking", 32, [("V-01", 3, "L1L2L3", 32)]),
        ],
    ),
    (
        "Nordic logistics depot",
        {"address": "Havnegata 4, 7010 Trondheim", "time_zone": "Europe/Oslo", "network_type": "TN",
         "authorization_mode": AuthorizationMode.OPEN, "price_per_kwh": "1.90", "currency": "NOK",
         "max_phase_imbalance_a": 32},
        250,
        [
            ("Bay 1", 125, [("BAY1-1", 3, "L1L2L3", 32), ("BAY1-2", 3, "L2L3L1", 32), ("BAY1-3", 3, "L3L1L2", 32)]),
            ("Bay 2", 125, [("BAY2-1", 3, "L1L2L3", 32), ("BAY2-2", 3, "L2L3L1", 32), ("BAY2-3", 3, "L3L1L2", 32)]),
        ],
    ),
]  # fmt: skip


class Command(BaseCommand):
    help = "Load the demo users, installations and chargers (does nothing if they exist)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(email="owner@demo.test").exists():
            self.stdout.write("Demo data already present.")
            return
        users = {}
        for email, name in USERS:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
            users[email.split("@")[0]] = user
        # RFID cards, so the simulated chargers can charge at the locked site too.
        for number, login in enumerate(["owner", "driver1", "driver2"]):
            ChargeCard.objects.create(
                id_tag=f"DEMO-CARD-{number}", user=users[login], name="Demo card"
            )
        for index, (site_name, fields, main_fuse_a, circuits) in enumerate(SITES):
            site = create_installation(
                users["owner"], name=site_name, main_fuse_a=main_fuse_a, **fields
            )
            Membership.objects.create(
                user=users["installer"], installation=site, role=Role.INSTALLER
            )
            for circuit_name, circuit_a, chargers in circuits:
                circuit = Circuit.objects.create(
                    installation=site,
                    parent=site.main_fuse,
                    name=circuit_name,
                    max_current_a=circuit_a,
                )
                for charger_name, phases, rotation, max_a in chargers:
                    prefix = "SOL" if index == 0 else "NLD"
                    charger, _ = register_charger(
                        circuit=circuit, name=charger_name, ocpp_identity=f"{prefix}-{charger_name}",
                        phases=phases, phase_rotation=rotation, max_current_a=max_a,
                    )  # fmt: skip
                    charger.set_ocpp_password(DEMO_CHARGER_PASSWORD)
                    charger.save(update_fields=["ocpp_password_hash"])
            if index == 0:
                Membership.objects.create(
                    user=users["driver1"], installation=site, role=Role.DRIVER
                )
                driver2 = Membership.objects.create(
                    user=users["driver2"],
                    installation=site,
                    role=Role.DRIVER,
                    may_charge_everywhere=False,
                )
                for charger in Charger.objects.filter(installation=site, name__in=["V-01", "A-04"]):
                    ChargerPermission.objects.create(membership=driver2, charger=charger)
            else:
                Membership.objects.create(
                    user=users["driver2"], installation=site, role=Role.DRIVER
                )
                # The depot is presented to a third-party central system (the demo's own,
                # ``ocpp_bridge.demo_upstream``): its Upstream tab shows the links live.
                UpstreamSettings.objects.create(installation=site, url=DEMO_UPSTREAM_URL)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
