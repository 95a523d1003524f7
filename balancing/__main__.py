"""``python -m balancing < scenario.json > allocation.json``

Reads one snapshot (docs/BALANCING.md) on stdin and writes the allocation on stdout. Invalid
input (not JSON, or a field breaking the contract) prints the error naming the field on stderr
and exits with status 2, leaving stdout empty.
"""

from __future__ import annotations

import json
import sys

from balancing.engine import ScenarioError, solve

EXIT_BAD_INPUT = 2


def main() -> int:
    try:
        scenario = json.load(sys.stdin)
    except json.JSONDecodeError as error:
        print(f"balancing: input is not JSON: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        allocation = solve(scenario)
    except ScenarioError as error:
        print(f"balancing: invalid scenario: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    json.dump(allocation, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
