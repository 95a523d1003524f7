"""`make demo`: months of charging history at the demo installations (once; a second run does nothing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD
from reporting.demo import seed_history


class Command(BaseCommand):
    help = "Seed months of realistic charging history at the demo installations (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        made = seed_history(DEMO_PASSWORD)
        if made:
            self.stdout.write(self.style.SUCCESS(f"Seeded {made} charge sessions of demo history."))
        else:
            self.stdout.write("Demo history already present (or no demo installations).")
