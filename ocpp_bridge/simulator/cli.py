"""Command-line options shared by ``python -m ocpp_bridge.simulator`` and ``manage.py simulate``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from ocpp_bridge.simulator.fleet import Fleet
from ocpp_bridge.simulator.settings import DEFAULT_CARDS, SimSettings
from ocpp_bridge.simulator.station import ChargerSpec


def add_simulation_arguments(parser: argparse.ArgumentParser, *, url: str) -> None:
    add = parser.add_argument
    add("--url", default=url, help=f"the central system's OCPP URL, without identity ({url})")
    add("--speed", type=float, default=1.0, help="time acceleration of batteries and car visits")
    add("--seed", type=int, default=0, help="random seed (same seed, same cars)")
    add("--meter-interval", type=int, default=60, help="MeterValueSampleInterval, s")
    add("--heartbeat", type=int, default=300, help="heartbeat until the boot answer says, s")
    add("--ws-ping", type=int, default=60, help="websocket ping interval, s (0: none)")
    add("--cards", default="", help="comma-separated RFID idTags drivers present")
    add("--occupancy", type=float, default=0.5, help="share of connectors with a car at start")
    add("--mean-idle", type=float, default=30.0, help="mean minutes between cars (simulated)")
    add("--dwell", type=float, nargs=2, default=(30.0, 360.0), metavar=("MIN", "MAX"),
        help="minutes a car stays (simulated), uniform")  # fmt: skip
    add("--no-cars", action="store_true", help="chargers only, no car visits")
    add("--failsafe", type=float, default=None, help="failsafe current, A (default per charger)")
    add("--phase-labels", choices=["installation", "charger"], default="charger",
        help="report phases as wired to the installation (rotation applied) or charger terminals")  # fmt: skip
    add("--no-validate", action="store_true", help="skip JSON-schema checks (load tests)")
    add("--boot-every-connection", action="store_true", help="BootNotification on each connect")
    add("--ramp", type=float, default=0.0, help="spread the first connections over N seconds")
    add("--duration", type=float, default=None, help="stop after N seconds (default: run on)")
    add("--tick", type=float, default=5.0, help="at most N seconds between physics updates")
    add("--timeout", type=float, default=30.0, help="seconds to wait for a CallResult")
    add("--report-every", type=float, default=60.0, help="log a summary every N seconds")
    add("--control", action="store_true", help="JSON commands on stdin, answers on stdout")
    add("--log-level", default="INFO")


def settings_from_args(args: argparse.Namespace, cards: tuple[str, ...] = ()) -> SimSettings:
    listed = tuple(tag.strip() for tag in args.cards.split(",") if tag.strip())
    return SimSettings(
        url=args.url,
        speed=args.speed,
        seed=args.seed,
        meter_interval_s=args.meter_interval,
        heartbeat_interval_s=args.heartbeat,
        ws_ping_interval_s=args.ws_ping,
        response_timeout_s=args.timeout,
        validate=not args.no_validate,
        cards=listed or cards or DEFAULT_CARDS,
        cars=not args.no_cars,
        initial_occupancy=args.occupancy,
        mean_idle_s=args.mean_idle * 60,
        dwell_s=(args.dwell[0] * 60, args.dwell[1] * 60),
        phase_labels=args.phase_labels,
        tick_s=args.tick,
        boot_every_connection=args.boot_every_connection,
        failsafe_current_a=args.failsafe,
    )


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # The ocpp library logs every frame at INFO; websockets reports handshake retries.
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)


def run_fleet(specs: list[ChargerSpec], settings: SimSettings, args: argparse.Namespace) -> int:
    """Run the chargers until stopped; with --control, print the final stats as JSON."""
    if not specs:
        logging.getLogger("ocpp_bridge.simulator").warning("no chargers to simulate")
        return 0

    async def main() -> dict[str, Any]:
        fleet = Fleet(specs, settings)
        return await fleet.run(
            ramp_s=args.ramp,
            duration_s=args.duration,
            control=args.control,
            report_every_s=args.report_every,
            tune_gc=True,
        )

    final = asyncio.run(main())
    if args.control:
        sys.stdout.write(json.dumps({"reply": "final", **final}) + "\n")
        sys.stdout.flush()
    return 0
