"""Where Fusebox may send the requests an owner points it at: the SSRF guard of the external
authorizer.

An owner types a URL; the bridge and the web processes then POST to it from inside our network.
So a URL is only good when:

- its scheme is ``https`` (``http`` only with ``ACCESS_EXTERNAL_ALLOW_HTTP``, for development);
- it has a host and no user name or password in it;
- its port is the default (443), or 1024 and up: the well-known ports below 1024 belong to
  other protocols (SSH, SMTP, ...), a webhook has no business there;
- EVERY address its host resolves to is a public unicast address: not loopback, private
  (RFC 1918, fc00::/7, shared 100.64/10), link-local (169.254/16 with the cloud metadata
  address, fe80::/10), multicast, unspecified, reserved or documentation space; IPv6 forms that
  embed an IPv4 address (mapped, 6to4, NAT64, Teredo) are judged by that address.

With ``ACCESS_EXTERNAL_ALLOW_HTTP`` on (development and the tests' local HTTP server) local
addresses and any port are allowed too.

The check runs twice: when the URL is saved (``AccessPolicy.clean()``, hence the API and the
form), and at every call (``resolve()`` in ``auth_access.external.call``), because DNS answers
change. The call then connects to the very addresses it checked (``pinned_connection``), so a
name that resolves to a public address for the check and to 127.0.0.1 a moment later (DNS
rebinding) gets nowhere; TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80, "wss": 443, "ws": 80}
LOWEST_OTHER_PORT = 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class UnsafeDestination(ValueError):
    """A URL Fusebox will not call; the message says why, for the owner."""


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect (``addresses``) and what to say (``host``, ``target``)."""

    scheme: str
    host: str  # as in the URL: the Host header, TLS server name and certificate check
    port: int
    target: str  # path and query, for the request line
    addresses: tuple[str, ...]  # every address the host resolved to, all checked


def lookup(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the tests replace this with a fake resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why Fusebox may not call ``address`` ("a loopback address", ...), or None. Pure."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_problem(str(embedded))
    checks = [
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    ]
    return next((why for failed, why in checks if failed), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


# Who the guard speaks of in its messages: what the URL is for, and who gets called there.
AUTHORIZER = ("The external authorizer", "authorizers")
WEBHOOK = ("A webhook URL", "webhook receivers")
UPSTREAM = ("An upstream central system URL", "central systems")
# The schemes a purpose may use: (always, only with allow_local, how to say it). Upstream speaks
# OCPP-J over websockets: ws:// (security profiles 0 and 1) and wss:// are both for production.
SchemeRule = tuple[tuple[str, ...], tuple[str, ...], str]
SCHEMES: dict[tuple[str, str], SchemeRule] = {UPSTREAM: (("ws", "wss"), (), "a ws:// or wss://")}
HTTP_SCHEMES: SchemeRule = (("https",), ("http",), "an https://")


def check_form(
    url: str, *, allow_local: bool, purpose: tuple[str, str] = AUTHORIZER
) -> tuple[str, str, int, str]:
    """Scheme, host, port and target of ``url``, or UnsafeDestination (no DNS lookup)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeDestination("This is not a valid URL.") from None
    scheme = parts.scheme.lower()
    always, local_only, named = SCHEMES.get(purpose, HTTP_SCHEMES)
    if scheme not in always and not (scheme in local_only and allow_local):
        raise UnsafeDestination(f"{purpose[0]} must be {named} URL.")
    host = parts.hostname
    if not host:
        raise UnsafeDestination("The URL needs a host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeDestination("Put no user name or password in the URL; the secret signs.")
    if port is None:
        port = DEFAULT_PORTS[scheme]
    elif not allow_local and port != DEFAULT_PORTS[scheme] and port < LOWEST_OTHER_PORT:
        raise UnsafeDestination(
            f"Port {port} is reserved for other services: use 443 (the default) or a port "
            f"from {LOWEST_OTHER_PORT} up."
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, target


def problem(
    url: str,
    *,
    allow_local: bool,
    purpose: tuple[str, str] = AUTHORIZER,
    resolve_host: bool = True,
) -> str | None:
    """Why Fusebox will not call ``url`` (the message for the owner), or None: the check made
    when a URL is saved. ``resolve_host``: look the host up and check every address (a new URL);
    otherwise only its form (an unchanged one, so editing another setting does not need DNS)."""
    try:
        if resolve_host:
            resolve(url, allow_local=allow_local, purpose=purpose)
        else:
            check_form(url, allow_local=allow_local, purpose=purpose)
    except UnsafeDestination as error:
        return str(error)
    return None


def resolve(url: str, *, allow_local: bool, purpose: tuple[str, str] = AUTHORIZER) -> Destination:
    """Check ``url`` and every address its host resolves to now; UnsafeDestination otherwise."""
    scheme, host, port, target = check_form(url, allow_local=allow_local, purpose=purpose)
    try:
        addresses = lookup(host, port)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"The host name {host} could not be resolved.") from None
    if not addresses:
        raise UnsafeDestination(f"The host name {host} could not be resolved.")
    if not allow_local:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                named = f"{host} is" if host == address else f"{host} resolves to {address},"
                raise UnsafeDestination(
                    f"{named} {problem}: Fusebox only calls {purpose[1]} on the public internet."
                )
    return Destination(scheme, host, port, target, tuple(addresses))


def _connect_pinned(addresses: tuple[str, ...], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the first of the checked ``addresses`` that answers (never a new
    DNS lookup: what was checked is what is called)."""
    last_error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as error:
            last_error = error
    raise last_error or OSError("no address to connect to")


def pinned_socket(destination: Destination, timeout: float | None) -> socket.socket:
    """A TCP connection to the addresses ``resolve`` checked (e.g. under a websocket)."""
    return _connect_pinned(destination.addresses, destination.port, timeout)


class PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._create_connection = lambda address, timeout, *rest: _connect_pinned(
            destination.addresses, address[1], timeout
        )


class PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked address; the server name and certificate check use the URL's host."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout, context=tls_context())
        self._create_connection = lambda address, timeout, *rest: _connect_pinned(
            destination.addresses, address[1], timeout
        )


_tls: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The system's trust store, certificate and host name checked (the tests swap it)."""
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


def pinned_connection(destination: Destination, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to the addresses ``resolve`` checked, never to a new lookup's."""
    pinned = PinnedHTTPS if destination.scheme == "https" else PinnedHTTP
    return pinned(destination, timeout)
