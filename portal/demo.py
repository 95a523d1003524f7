"""The demo's logins and credentials, shared by the demo data loader, the supervisor and the simulator."""

DEMO_PASSWORD = "fusebox-demo"
# Every demo charger connects with this OCPP password (real chargers get a random one each).
DEMO_CHARGER_PASSWORD = "fusebox-demo-charger"

USERS = [
    ("owner@demo.test", "Olivia Owner"),
    ("installer@demo.test", "Ivan Installer"),
    ("driver1@demo.test", "Dana Driver"),
    ("driver2@demo.test", "Dmitri Driver"),
]
