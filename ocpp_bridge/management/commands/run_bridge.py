"""``python manage.py run_bridge``: the OCPP-J 1.6 bridge, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ocpp_bridge.bridge import DB_THREADS, serve_bridge


class Command(BaseCommand):
    help = "Run the OCPP-J 1.6 bridge: the chargers' websocket server (ws://HOST:PORT/ocpp/<id>)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", help="address to listen on (default: OCPP_BRIDGE_HOST)")
        parser.add_argument("--port", type=int, help="port (default: OCPP_BRIDGE_PORT)")
        parser.add_argument("--node-id", help="name in Redis presence (default: BRIDGE_NODE_ID)")
        parser.add_argument(
            "--db-threads",
            type=int,
            default=DB_THREADS,
            help=f"database threads (default: {DB_THREADS})",
        )
        parser.add_argument(
            "--stats-interval",
            type=float,
            default=60.0,
            help="seconds between the stats lines in the log (default: 60)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # websockets logs every connection's opening and closing at INFO, without the identity:
        # 20,000 lines in a reconnect storm of 10,000 chargers. The bridge logs what matters.
        logging.getLogger("websockets.server").setLevel(logging.WARNING)
        asyncio.run(
            serve_bridge(
                options["host"],
                options["port"],
                node_id=options["node_id"],
                db_threads=options["db_threads"],
                stats_interval_s=options["stats_interval"],
            )
        )
