"""``python -m ocpp_bridge.simulator``: simulated chargers without Django.

Chargers are either synthetic (``--prefix SIM- --first 1 --count 100 --password ...``: identity,
phases and rotation follow from the identity, see ``fleet.synthetic_spec``) or listed in a JSON
file (``--specs chargers.json``: a list of ChargerSpec fields). ``manage.py simulate --demo``
reads them from the database instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ocpp_bridge.simulator.cli import (
    add_simulation_arguments,
    configure_logging,
    run_fleet,
    settings_from_args,
)
from ocpp_bridge.simulator.fleet import synthetic_specs
from ocpp_bridge.simulator.station import ChargerSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocpp_bridge.simulator", description=__doc__)
    add_simulation_arguments(parser, url="ws://127.0.0.1:9000/ocpp")
    parser.add_argument("--prefix", default="SIM-", help="identity prefix of synthetic chargers")
    parser.add_argument("--first", type=int, default=1, help="number of the first charger")
    parser.add_argument("--count", type=int, default=10, help="how many synthetic chargers")
    parser.add_argument("--password", default="", help="OCPP password of every charger")
    parser.add_argument("--specs", type=Path, help="JSON list of charger specs instead")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    if args.specs:
        specs = [ChargerSpec(**fields) for fields in json.loads(args.specs.read_text())]
    else:
        specs = synthetic_specs(args.prefix, args.first, args.count, args.password)
    return run_fleet(specs, settings_from_args(args), args)


if __name__ == "__main__":
    sys.exit(main())
