"""A resolver for the tests: no test depends on real DNS, and each says what a name resolves to.

``*.example.com`` is a public address (93.184.215.14), ``localhost`` and ``*.localhost``
loopback, IP literals themselves; ``FakeDns.names`` adds or changes names (DNS rebinding);
anything else does not resolve. ``lookups`` counts the questions asked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

PUBLIC_ADDRESS = "93.184.215.14"


class FakeDns:
    def __init__(self) -> None:
        self.names: dict[str, list[str] | Callable[[], list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        host = host.lower()
        if host in self.names:
            answer = self.names[host]
            return answer() if callable(answer) else list(answer)
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host == "localhost" or host.endswith(".localhost"):
            return ["127.0.0.1", "::1"]
        if host == "example.com" or host.endswith(".example.com"):
            return [PUBLIC_ADDRESS]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
