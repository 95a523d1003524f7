"""``manage.py rollup --check | --rebuild``: the daily usage rollup against the sessions."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reporting.rollup import differences, rebuild


class Command(BaseCommand):
    help = (
        "Compare the daily usage rollup with the sums over the sessions (--check), or recompute "
        "it from them (--rebuild; session writes wait meanwhile)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="exit 1 if a row differs")
        action.add_argument("--rebuild", action="store_true", help="recompute every row")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["rebuild"]:
            rows = rebuild()
            seconds = time.perf_counter() - started
            self.stdout.write(self.style.SUCCESS(f"Rebuilt {rows:,} rows in {seconds:.1f} s."))
            return
        found = differences()
        seconds = time.perf_counter() - started
        if found:
            for kind, row in found:
                self.stderr.write(f"{kind}: {row}")
            raise CommandError(f"The rollup differs from the sessions ({seconds:.1f} s).")
        self.stdout.write(self.style.SUCCESS(f"The rollup equals the sessions ({seconds:.1f} s)."))
