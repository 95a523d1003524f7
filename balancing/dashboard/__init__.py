"""What balancing is doing at one installation now: the read model of the Load tab and its API.

``load_dashboard`` reads once (``snapshot.build_scenario``: the numbers the engine sees, the main
fuse's limit following a live available current while it is valid), adds names, live power and
the latest decisions, and ``compose_dashboard`` (pure) turns that into plain dataclasses:

- per fuse and installation phase: the live draw of every charger below it (plus base load)
  against the limit, and what balancing currently allows the cars below it;
- per charger: its allocation, live draw on the installation phases it is wired to, and its state
  (charging, paused and why, finished, offline at failsafe, no car);
- the latest decisions, their notes reworded with circuit and charger names (``notes``).

Who sees what is decided by the querysets the caller passes (restricted to the user): fuses and
chargers outside them are left out, but still count in the loads of the fuses above them; a note
about a charger the user may not see is dropped, a circuit the user may not see is "a fuse".

The package, by step: `view` (the dataclasses and levels the page and API show), `read`
(``load_dashboard``: the queries), `compose` (``compose_dashboard``: pure).
"""

from balancing.dashboard.compose import compose_dashboard
from balancing.dashboard.read import load_dashboard
from balancing.dashboard.view import (
    DEFAULT_DECISION_COUNT,
    ChargerLoad,
    ChargerState,
    DecisionRow,
    FuseLoad,
    LoadDashboard,
    LoadLevel,
    PhaseDraw,
    PhaseLoad,
    load_level,
)

__all__ = [
    "DEFAULT_DECISION_COUNT",
    "ChargerLoad",
    "ChargerState",
    "DecisionRow",
    "FuseLoad",
    "LoadDashboard",
    "LoadLevel",
    "PhaseDraw",
    "PhaseLoad",
    "compose_dashboard",
    "load_dashboard",
    "load_level",
]
