"""The external authorizer: a signed HTTPS POST to an installation's webhook, and its answer.

Protocol (docs/access.md has the full description and a receiver example):

- ``POST <external_url>`` with ``Content-Type: application/json`` and the body of
  ``request_body()``: ``type``, ``installation``, ``charger``, ``connector``, ``id_tag``,
  ``card``, ``user``, ``local_decision``, ``timestamp`` (ISO-8601 UTC) and ``nonce`` (32 hex
  characters, new for every request).
- ``X-Fusebox-Timestamp: <unix seconds>`` and ``X-Fusebox-Signature: v1=<hex>``, the hex
  HMAC-SHA256 with the shared secret over the bytes ``<timestamp>.<body>``. A receiver checks
  the signature (constant-time), that the timestamp is within ``TOLERANCE_S`` of its clock, and
  that it has not seen the nonce within that time (``verify_request()`` does all three).
- The answer, 2xx within the deadline: ``{"status": "Accepted"|"Blocked"|"Expired"|"Invalid"|
  "ConcurrentTx", "expiry": "<ISO-8601>"?}``. Anything else (timeout, connection error, non-2xx,
  a redirect, not JSON, an unknown status, a bad expiry, more than 64 kB) is a failure, and the
  installation's fallback policy decides.
- Optionally the answer is signed too: ``X-Fusebox-Timestamp`` and ``X-Fusebox-Signature: v1=``
  HMAC-SHA256 over ``<timestamp>.<request nonce>.<answer body>`` (``sign_reply()``), which binds
  it to our request. A signature present is always checked; with
  ``external_require_signed_reply`` an answer without one is a failure.

The HTTP call is plain ``http.client`` (no dependency), to the addresses ``auth_access.egress``
checked (the SSRF guard: public addresses only, checked again at every call). In the bridge it
runs on a small thread pool of its own (``ask()``), never on the database threads, under a hard
asyncio deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import secrets
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auth_access import egress
from auth_access.choices import AuthorizationStatus

if TYPE_CHECKING:
    from auth_access.models import AccessPolicy

SIGNATURE_HEADER = "X-Fusebox-Signature"
TIMESTAMP_HEADER = "X-Fusebox-Timestamp"
SCHEME = "v1"
TOLERANCE_S = 300  # how far a receiver accepts our timestamp from its clock
MAX_ANSWER_BYTES = 65_536
USER_AGENT = "Fusebox-Authorizer/1"
# Threads for the HTTP calls of one bridge process: the calls wait on the network, not the CPU.
EXTERNAL_THREADS = 32


class SignatureError(ValueError):
    """A request (or answer) whose signature, timestamp or nonce does not hold."""


@dataclass(frozen=True)
class ExternalRequest:
    """One signed call to make, built on a database thread, sent from anywhere."""

    url: str
    secret: str
    deadline_s: float
    body: bytes
    nonce: str
    timestamp: int
    require_signed_reply: bool = False

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(self.timestamp),
            SIGNATURE_HEADER: f"{SCHEME}={sign(self.secret, self.timestamp, self.body)}",
        }


@dataclass(frozen=True)
class ExternalAnswer:
    """The authorizer's verdict, or why there is none (``status`` None, ``error`` says why)."""

    status: AuthorizationStatus | None
    expires_at: datetime | None = None
    error: str = ""


# --- signing ---------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``<timestamp>.<body>``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_reply(secret: str, request_nonce: str, body: bytes, timestamp: int | None = None) -> dict:
    """The headers a receiver adds to sign its answer (bound to our request's nonce)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    message = f"{timestamp}.{request_nonce}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: f"{SCHEME}={digest}"}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _signatures(header: str | None) -> list[str]:
    """The v1 signatures of a header such as ``v1=abc`` or ``v1=abc, v1=def`` (key rotation)."""
    if not header:
        return []
    found = []
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and value:
            found.append(value.strip())
    return found


class NonceCache:
    """Nonces seen within the tolerance, for a receiver's replay check (in memory, thread-safe).

    A receiver with several processes keeps them in a shared store instead (e.g. Redis
    ``SET nonce 1 NX EX 600``).
    """

    def __init__(self, ttl_s: float = 2 * TOLERANCE_S) -> None:
        self.ttl_s = ttl_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, nonce: str, now: float | None = None) -> bool:
        """Remember ``nonce``; False when it was seen already (a replay)."""
        now = time.time() if now is None else now
        with self._lock:
            for old in [n for n, until in self._seen.items() if until <= now]:
                del self._seen[old]
            if nonce in self._seen:
                return False
            self._seen[nonce] = now + self.ttl_s
            return True


def verify_request(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    nonces: NonceCache | None = None,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> dict[str, Any]:
    """The reference receiver's check of a request from Fusebox; returns the decoded body.

    Raises ``SignatureError`` when the timestamp is missing or outside ``tolerance_s``, no
    signature matches, or (with ``nonces``) the nonce was seen before.
    """
    now = time.time() if now is None else now
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    try:
        timestamp = int(raw_timestamp or "")
    except ValueError:
        raise SignatureError("missing or malformed timestamp") from None
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("timestamp outside the tolerance (old or replayed request)")
    expected = sign(secret, timestamp, body)
    if not any(
        hmac.compare_digest(expected, s) for s in _signatures(_header(headers, SIGNATURE_HEADER))
    ):
        raise SignatureError("signature does not match")
    try:
        payload = json.loads(body)
    except ValueError:
        raise SignatureError("body is not JSON") from None
    nonce = payload.get("nonce") if isinstance(payload, dict) else None
    if not isinstance(nonce, str) or not nonce:
        raise SignatureError("missing nonce")
    if nonces is not None and not nonces.add(nonce, now):
        raise SignatureError("nonce already seen (replayed request)")
    return payload


def _reply_signature_ok(request: ExternalRequest, headers: Mapping[str, str], body: bytes) -> bool:
    raw_timestamp = _header(headers, TIMESTAMP_HEADER) or ""
    if not raw_timestamp.isdigit() or abs(time.time() - int(raw_timestamp)) > TOLERANCE_S:
        return False
    message = f"{raw_timestamp}.{request.nonce}.".encode() + body
    expected = hmac.new(request.secret.encode(), message, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(expected, s) for s in _signatures(_header(headers, SIGNATURE_HEADER))
    )


# --- the call --------------------------------------------------------------------------------


def request_body(fields: dict[str, Any], now: datetime) -> tuple[bytes, str]:
    """The JSON body with a timestamp and a fresh nonce; returns (body, nonce)."""
    nonce = secrets.token_hex(16)
    document = {
        **fields,
        "timestamp": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "nonce": nonce,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode(), nonce


def build_request(
    *,
    url: str,
    secret: str,
    deadline_ms: int,
    fields: dict[str, Any],
    now: datetime,
    require_signed_reply: bool = False,
) -> ExternalRequest:
    body, nonce = request_body(fields, now)
    return ExternalRequest(
        url=url,
        secret=secret,
        deadline_s=deadline_ms / 1000,
        body=body,
        nonce=nonce,
        timestamp=int(now.timestamp()),
        require_signed_reply=require_signed_reply,
    )


def call(request: ExternalRequest) -> ExternalAnswer:
    """Make the call (blocking, at most about ``deadline_s`` per network step) and read the
    verdict. Never raises: a failure is an answer with ``error``.

    The URL is checked again here (``egress.resolve``: DNS may have changed since it was saved)
    and the connection goes to the addresses checked. No proxy, no redirect (a 3xx is a
    failure like any other non-2xx)."""
    from django.conf import settings

    try:
        destination = egress.resolve(request.url, allow_local=settings.ACCESS_EXTERNAL_ALLOW_HTTP)
    except egress.UnsafeDestination as error:
        return ExternalAnswer(None, error=f"refused URL: {error}"[:150])
    connection = egress.pinned_connection(destination, request.deadline_s)
    try:
        connection.request("POST", destination.target, body=request.body, headers=request.headers())
        response = connection.getresponse()
        if not 200 <= response.status < 300:
            return ExternalAnswer(None, error=f"HTTP {response.status}")
        body = response.read(MAX_ANSWER_BYTES + 1)
        headers = dict(response.getheaders())
    except TimeoutError:
        return ExternalAnswer(None, error="timeout")
    except (OSError, ValueError, http.client.HTTPException) as error:
        # refused, reset, TLS failure, bad status line
        return ExternalAnswer(None, error=f"connection error: {error}"[:150])
    finally:
        connection.close()
    return parse_answer(request, headers, body)


def parse_answer(
    request: ExternalRequest, headers: Mapping[str, str], body: bytes
) -> ExternalAnswer:
    if len(body) > MAX_ANSWER_BYTES:
        return ExternalAnswer(None, error="answer too large")
    signed = _header(headers, SIGNATURE_HEADER) is not None
    if (signed or request.require_signed_reply) and not _reply_signature_ok(request, headers, body):
        return ExternalAnswer(None, error="bad answer signature")
    try:
        document = json.loads(body)
    except ValueError:
        return ExternalAnswer(None, error="answer is not JSON")
    if not isinstance(document, dict):
        return ExternalAnswer(None, error="answer is not a JSON object")
    try:
        status = AuthorizationStatus(document.get("status"))
    except ValueError:
        return ExternalAnswer(None, error=f"unknown status {str(document.get('status'))[:40]!r}")
    expiry = document.get("expiry")
    expires_at = None
    if expiry is not None:
        try:
            expires_at = datetime.fromisoformat(str(expiry).replace("Z", "+00:00"))
        except ValueError:
            return ExternalAnswer(None, error="bad expiry")
        if expires_at.tzinfo is None:
            return ExternalAnswer(None, error="expiry without a time zone")
    return ExternalAnswer(status, expires_at)


@dataclass(frozen=True)
class ProbeResult:
    """What a test request brought back: the authorizer's status (or None and ``error``), and
    how long it took, the URL check and the deadline included."""

    status: AuthorizationStatus | None
    error: str
    latency_ms: float

    @property
    def answered(self) -> bool:
        return self.status is not None


def send_test(policy: AccessPolicy, now: datetime | None = None) -> ProbeResult:
    """Send a signed ``"type": "test"`` request to ``policy``'s authorizer, the way every real
    one goes (URL check, signature, deadline, answer checks), and say what came back. The
    policy needs its URL and secret (enabled or not)."""
    now = now or datetime.now(UTC)
    probe = build_request(
        url=policy.external_url,
        secret=policy.external_secret,
        deadline_ms=policy.external_deadline_ms,
        fields={
            "type": "test",
            "installation": {"id": policy.installation_id, "name": policy.installation.name},
        },
        now=now,
        require_signed_reply=policy.external_require_signed_reply,
    )
    started = time.perf_counter()
    answer = ask_now(probe)
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return ProbeResult(answer.status, answer.error, latency_ms)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(EXTERNAL_THREADS, thread_name_prefix="access-external")
        return _executor


async def ask(request: ExternalRequest) -> ExternalAnswer:
    """``call()`` from the event loop: on the authorizer's own threads, under a hard deadline
    (time waiting for a thread included), so neither the loop nor a database thread waits."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(_threads(), call, request), request.deadline_s
        )
    except TimeoutError:
        return ExternalAnswer(None, error="timeout")


def ask_now(request: ExternalRequest) -> ExternalAnswer:
    """``call()`` for sync callers (web requests), under the same hard deadline."""
    future = _threads().submit(call, request)
    try:
        return future.result(timeout=request.deadline_s)
    except TimeoutError:
        return ExternalAnswer(None, error="timeout")
