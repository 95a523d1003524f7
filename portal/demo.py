"""The demo's logins and credentials, shared by the demo data loader, the supervisor and the simulator."""

import os

DEMO_PASSWORD = "fusebox-demo"
# Every demo charger connects with this OCPP password (real chargers get a random one each).
DEMO_CHARGER_PASSWORD = "fusebox-demo-charger"

USERS = [
    ("owner@demo.test", "Olivia Owner"),
    ("installer@demo.test", "Ivan Installer"),
    ("driver1@demo.test", "Dana Driver"),
    ("driver2@demo.test", "Dmitri Driver"),
]

# The demo's third-party central system (``ocpp_bridge.demo_upstream``): the depot is bridged to it.
DEMO_UPSTREAM_PORT = int(os.environ.get("DEMO_UPSTREAM_PORT", "9100"))
DEMO_UPSTREAM_URL = f"ws://127.0.0.1:{DEMO_UPSTREAM_PORT}/ocpp"
