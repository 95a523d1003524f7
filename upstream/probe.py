""" "Test connection": from the web process, open a websocket to a charger's upstream URL as the
link would (subprotocol ocpp1.6, HTTP Basic for profiles 1 and 2, TLS with the custom CA), with
a short timeout, and say what happened. No OCPP message is sent; the connection is closed at
once. The URL passes the SSRF guard first and the socket goes to the very addresses it checked.
"""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from auth_access import egress
from chargers.models import Charger
from upstream.choices import SecurityProfile
from upstream.models import UpstreamSettings

SUBPROTOCOL = "ocpp1.6"


class ProbeOutcome(models.TextChoices):
    """How a test connection ended."""

    CONNECTED = "connected", "Connected, subprotocol ocpp1.6 agreed"
    NO_SUBPROTOCOL = "no_subprotocol", "Connected, but ocpp1.6 was not agreed"
    UNAUTHORIZED = "unauthorized", "HTTP 401: the identity or password was refused"
    NOT_FOUND = "not_found", "HTTP 404: upstream does not know this URL or identity"
    HTTP_ERROR = "http_error", "Refused with an HTTP status"
    TLS_FAILED = "tls_failed", "TLS verification failed"
    TIMED_OUT = "timed_out", "Timed out"
    REFUSED = "refused", "Connection refused"
    UNSAFE = "unsafe", "Not allowed (SSRF guard)"
    FAILED = "failed", "Could not connect"


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of a test connection; ``detail`` says it for a person."""

    outcome: ProbeOutcome
    detail: str
    url: str
    duration_ms: float
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == ProbeOutcome.CONNECTED


def _tls_context(row: UpstreamSettings) -> ssl.SSLContext:
    if row.ca_certificate.strip():
        return ssl.create_default_context(cadata=row.ca_certificate)
    return egress.tls_context()


def probe_connection(
    row: UpstreamSettings, charger: Charger, timeout_s: float | None = None
) -> ProbeResult:
    """Open (and close) a websocket to ``charger``'s upstream URL under ``row``'s settings."""
    timeout = timeout_s if timeout_s is not None else settings.UPSTREAM_TEST_TIMEOUT_S
    url = row.connect_url(charger)
    started = time.monotonic()

    def result(outcome: ProbeOutcome, detail: str, status: int | None = None) -> ProbeResult:
        elapsed = (time.monotonic() - started) * 1000
        return ProbeResult(outcome, detail, url, round(elapsed, 1), status)

    try:
        destination = egress.resolve(
            url, allow_local=settings.UPSTREAM_ALLOW_LOCAL, purpose=egress.UPSTREAM
        )
    except egress.UnsafeDestination as error:
        return result(ProbeOutcome.UNSAFE, str(error))
    headers = {}
    if row.security_profile in (SecurityProfile.BASIC, SecurityProfile.TLS_BASIC):
        credentials = f"{row.presented_identity(charger)}:{row.password}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    secure = destination.scheme == "wss"
    try:
        sock = egress.pinned_socket(destination, timeout)
    except TimeoutError:
        return result(
            ProbeOutcome.TIMED_OUT, f"No answer from {destination.host} in {timeout:g} s."
        )
    except ConnectionRefusedError:
        return result(
            ProbeOutcome.REFUSED,
            f"{destination.host} port {destination.port} refused the connection.",
        )
    except OSError as error:
        return result(ProbeOutcome.FAILED, f"Could not connect: {error.strerror or error}.")
    try:
        with connect(
            url,
            sock=sock,
            ssl=_tls_context(row) if secure else None,
            server_hostname=destination.host if secure else None,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=timeout,
            close_timeout=1,
            compression=None,
        ) as websocket:
            if websocket.subprotocol != SUBPROTOCOL:
                return result(
                    ProbeOutcome.NO_SUBPROTOCOL,
                    "The websocket opened but upstream did not agree to the ocpp1.6 subprotocol.",
                )
            return result(
                ProbeOutcome.CONNECTED,
                f"Connected to {destination.host}; subprotocol ocpp1.6 agreed.",
            )
    except InvalidStatus as error:
        code = error.response.status_code
        if code == 401:
            return result(ProbeOutcome.UNAUTHORIZED, ProbeOutcome.UNAUTHORIZED.label + ".", code)
        if code == 404:
            return result(ProbeOutcome.NOT_FOUND, ProbeOutcome.NOT_FOUND.label + ".", code)
        return result(ProbeOutcome.HTTP_ERROR, f"Upstream answered HTTP {code}.", code)
    except ssl.SSLCertVerificationError as error:
        return result(
            ProbeOutcome.TLS_FAILED,
            f"TLS verification failed: {error.verify_message or error.reason}.",
        )
    except ssl.SSLError as error:
        return result(ProbeOutcome.TLS_FAILED, f"TLS failed: {error.reason or error}.")
    except TimeoutError:
        return result(
            ProbeOutcome.TIMED_OUT, f"The websocket handshake took longer than {timeout:g} s."
        )
    except InvalidHandshake as error:
        return result(ProbeOutcome.FAILED, f"Not an OCPP websocket endpoint: {error}.")
    except OSError as error:
        return result(ProbeOutcome.FAILED, f"The connection failed: {error.strerror or error}.")
    finally:
        sock.close()
