"""One webhook POST: signed headers, the SSRF guard at every send, a bounded wait.

The URL is checked again before each send (``auth_access.egress.resolve``: DNS may have
changed since it was saved) and the connection goes to the very addresses checked, through the
external authorizer's pinned connections (``auth_access.external``), so DNS rebinding gets
nowhere; TLS still checks the certificate against the URL's host. No proxy, no redirect (a 3xx
is a failure). Every network step waits at most ``WEBHOOKS_TIMEOUT_S``, and at most 1 KB of
the answer is read.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from auth_access import egress
from webhooks.models import EXCERPT_CHARS
from webhooks.signing import signature

USER_AGENT = "Fusebox-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt brought back: the HTTP status (None: no answer) and why it failed."""

    status_code: int | None
    error: str
    excerpt: str
    duration_ms: float

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def headers_for(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def sanitise(raw: bytes) -> str:
    """At most ``EXCERPT_CHARS`` characters of an answer, as text without control characters
    (tab and line breaks kept), for the delivery log."""
    text = raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    text = "".join(c for c in text if c in "\t\n" or (c >= " " and c != "\x7f"))
    return text[:EXCERPT_CHARS]


class Connections:
    """The open connection of one sender thread, reused (HTTP keep-alive) while it sends to the
    same checked destination: no new TCP and TLS handshake per delivery."""

    def __init__(self) -> None:
        self._destination: egress.Destination | None = None
        self._connection: http.client.HTTPConnection | None = None

    def get(self, destination: egress.Destination) -> tuple[http.client.HTTPConnection, bool]:
        """A connection to ``destination``, and whether it was used before."""
        if self._connection is not None and destination == self._destination:
            return self._connection, True
        self.close()
        self._connection = egress.pinned_connection(destination, settings.WEBHOOKS_TIMEOUT_S)
        self._destination = destination
        return self._connection, False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._destination = None


# A kept-alive connection the receiver closed meanwhile fails before any answer: sent again on a
# new connection (once; at least once allows it).
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def post(
    url: str,
    secret: str,
    message_id: str,
    payload: dict[str, Any],
    connections: Connections | None = None,
) -> Outcome:
    """Send one signed delivery; never raises (a failure is an ``Outcome`` with ``error``).
    ``connections``: the caller's, kept open for the next delivery; else one for this send."""
    started = time.perf_counter()

    def done(code: int | None, error: str = "", excerpt: str = "") -> Outcome:
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return Outcome(code, error[:300], excerpt, elapsed)

    try:
        destination = egress.resolve(
            url, allow_local=settings.WEBHOOKS_ALLOW_LOCAL, purpose=egress.WEBHOOK
        )
    except egress.UnsafeDestination as error:
        return done(None, f"refused URL: {error}")
    body = body_of(payload)
    headers = headers_for(secret, message_id, int(time.time()), body)
    own = connections is None
    connections = connections or Connections()
    try:
        for _ in range(2):
            connection, reused = connections.get(destination)
            try:
                connection.request("POST", destination.target, body=body, headers=headers)
                response = connection.getresponse()
            except _STALE:
                connections.close()
                if not reused:
                    raise
                continue
            excerpt = sanitise(response.read(EXCERPT_CHARS + 1))
            if not response.isclosed():  # more body than we read: the connection cannot go on
                connections.close()
            code = response.status
            break
    except TimeoutError:
        connections.close()
        return done(None, f"timeout after {settings.WEBHOOKS_TIMEOUT_S:g} s")
    except (OSError, ValueError, http.client.HTTPException) as error:
        # refused, reset, TLS failure, a bad status line
        connections.close()
        return done(None, f"connection error: {error or type(error).__name__}")
    finally:
        if own:
            connections.close()
    return done(code, "" if 200 <= code < 300 else f"HTTP {code}", excerpt)
