"""Fixtures borrowed from other suites: the bridge harness of tests/ocpp (a real bridge, test
chargers over real websockets) and the web UI's logged-in clients and browser."""

from tests.ocpp.conftest import bridge, chargers  # noqa: F401 (fixtures)
from tests.web.conftest import (  # noqa: F401 (fixtures)
    browser,
    client_as,
    live_static,
    phone,
    screenshot,
)
