"""A real external authorizer for tests: ``http.server`` in a thread, checking our signatures
with the reference verifier (``auth_access.external.verify_request``) as a receiver would."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from auth_access import external

SECRET = "test-authorizer-shared-secret"


@dataclass
class Reply:
    """What the authorizer answers: a JSON document (or raw bytes), after a delay."""

    body: Any = field(default_factory=lambda: {"status": "Accepted"})
    status_code: int = 200
    delay_s: float = 0.0
    signed: bool = False


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any] | None  # None: the verifier refused it
    refusal: str = ""


class Authorizer:
    """Start with ``start()``; set ``decide`` (payload -> Reply); read ``received``."""

    def __init__(
        self, secret: str = SECRET, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        """``tls``: serve https with this server context; ``host``: the name in ``url`` (it
        must resolve to 127.0.0.1, see tests/access/fake_dns.py)."""
        self.secret = secret
        self.scheme = "https" if tls else "http"
        self.host = host
        self.nonces = external.NonceCache()
        self.decide: Callable[[dict[str, Any]], Reply] = lambda payload: Reply()
        self.received: list[Received] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.server.server_address[1]}/authorize"

    def start(self) -> Authorizer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [r.payload for r in self.received if r.payload is not None]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authorizer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                try:
                    payload = external.verify_request(
                        authorizer.secret, headers, body, nonces=authorizer.nonces
                    )
                except external.SignatureError as error:
                    authorizer.received.append(Received(headers, body, None, str(error)))
                    self._send(401, json.dumps({"error": str(error)}).encode(), {})
                    return
                authorizer.received.append(Received(headers, body, payload))
                reply = authorizer.decide(payload)
                time.sleep(reply.delay_s)
                raw = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                extra = (
                    external.sign_reply(authorizer.secret, payload["nonce"], raw)
                    if reply.signed
                    else {}
                )
                self._send(reply.status_code, raw, extra)

            def _send(self, code: int, raw: bytes, extra: dict[str, str]) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the caller gave up (deadline)
                    pass

        return Handler
