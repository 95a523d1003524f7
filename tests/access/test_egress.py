"""The SSRF guard of the external authorizer: which URLs Fusebox calls, checked when saved and at
every call, and the call going to the very address that was checked (DNS rebinding)."""

from __future__ import annotations

import re
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from auth_access import egress, external
from auth_access.models import AccessPolicy
from tests.access.authorizer import SECRET, Authorizer
from tests.access.fake_dns import PUBLIC_ADDRESS, FakeDns
from tests.conftest import World, api_as


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "a link-local address"),  # the cloud metadata service
        ("fe80::1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("192.0.2.10", "a private address"),  # documentation
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("2002:a9fe:a9fe::1", "a link-local address"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        (PUBLIC_ADDRESS, None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_only_public_unicast_addresses_are_called(address: str, problem: str | None) -> None:
    assert egress.address_problem(address) == problem


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://auth.example.com/", "must be an https:// URL"),
        ("ftp://auth.example.com/", "must be an https:// URL"),
        ("https:///path", "needs a host name"),
        ("https://user:pw@auth.example.com/", "no user name or password"),
        ("https://auth.example.com:22/", "Port 22 is reserved"),
        ("https://auth.example.com:80/", "Port 80 is reserved"),
        ("https://auth.example.com:99999/", "not a valid URL"),
        ("https://nowhere.invalid/", "could not be resolved"),
        ("https://localhost/", "localhost resolves to 127.0.0.1, a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://[::1]:8443/", "::1 is a loopback address"),
    ],
)
def test_unsafe_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(egress.UnsafeDestination, match=re.escape(message)):
        egress.resolve(url, allow_local=False)


def test_a_name_with_one_private_address_among_public_ones_is_refused(fake_dns: FakeDns) -> None:
    fake_dns.names["mixed.example.com"] = [PUBLIC_ADDRESS, "10.0.0.7"]
    with pytest.raises(
        egress.UnsafeDestination, match=re.escape("resolves to 10.0.0.7, a private")
    ):
        egress.resolve("https://mixed.example.com/", allow_local=False)


def test_good_urls_pass_with_what_the_call_needs() -> None:
    assert egress.resolve("https://auth.example.com/hook?site=1#x", allow_local=False) == (
        egress.Destination("https", "auth.example.com", 443, "/hook?site=1", (PUBLIC_ADDRESS,))
    )
    assert egress.resolve("https://auth.example.com:8443", allow_local=False).port == 8443
    assert egress.resolve("https://auth.example.com:443/", allow_local=False).target == "/"


def test_the_development_switch_allows_http_local_addresses_and_any_port() -> None:
    destination = egress.resolve("http://localhost:80/hook", allow_local=True)
    assert (destination.scheme, destination.port, destination.addresses) == (
        "http", 80, ("127.0.0.1", "::1"),
    )  # fmt: skip


class TestWhenSaved:
    URL = "/api/v1/access-policies/{}/"

    def test_the_api_refuses_an_internal_authorizer(self, world: World, fake_dns: FakeDns) -> None:
        fake_dns.names["metadata.example.com"] = ["169.254.169.254"]
        response = api_as(world.alice).patch(
            self.URL.format(world.site_a.pk),
            {"external_url": "https://metadata.example.com/"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["external_url"] == [
            "metadata.example.com resolves to 169.254.169.254, a link-local address: Fusebox "
            "only calls authorizers on the public internet."
        ]

    def test_the_model_checks_it_whoever_saves(self, world: World) -> None:
        policy = AccessPolicy.objects.get(installation=world.site_a)
        policy.external_url = "https://10.0.0.1:8443/"
        with pytest.raises(ValidationError, match=re.escape("10.0.0.1 is a private address")):
            policy.full_clean()

    def test_local_addresses_pass_with_the_development_switch(
        self, world: World, local_authorizers: None
    ) -> None:
        policy = AccessPolicy.objects.get(installation=world.site_a)
        policy.external_url = "http://127.0.0.1:8000/"
        policy.full_clean()

    def test_an_unchanged_url_is_not_resolved_again_when_another_setting_changes(
        self, world: World, fake_dns: FakeDns
    ) -> None:
        url = self.URL.format(world.site_a.pk)
        owner = api_as(world.alice)
        response = owner.patch(url, {"external_url": "https://auth.example.com/"}, format="json")
        assert response.status_code == 200, response.json()
        assert fake_dns.lookups == ["auth.example.com"]
        fake_dns.names["auth.example.com"] = []  # DNS is down (or the name went away)
        response = owner.patch(url, {"external_deadline_ms": 3000}, format="json")
        assert response.status_code == 200, response.json()
        assert fake_dns.lookups == ["auth.example.com"]  # the form was checked, no lookup
        # The call still resolves and checks (test_a_name_that_now_resolves_inside_is_not_called);
        # a changed URL is resolved when saved.
        response = owner.patch(url, {"external_url": "https://auth.example.com/v2"}, format="json")
        assert response.status_code == 400
        assert fake_dns.lookups == ["auth.example.com", "auth.example.com"]


def _request(url: str) -> external.ExternalRequest:
    return external.build_request(
        url=url,
        secret=SECRET,
        deadline_ms=2000,
        fields={"type": "test", "installation": {"id": 1}},
        now=timezone.now(),
    )


@pytest.fixture
def authorizer() -> Iterator[Authorizer]:
    server = Authorizer(host="authorizer.localhost").start()
    try:
        yield server
    finally:
        server.stop()


class TestAtCallTime:
    def test_a_name_that_now_resolves_inside_is_not_called(self, fake_dns: FakeDns) -> None:
        """Saved while public, the name resolves to the metadata service at the call."""
        fake_dns.names["rebind.example.com"] = ["169.254.169.254"]
        answer = external.call(_request("https://rebind.example.com/hook"))
        assert answer.status is None
        expected = (
            "refused URL: rebind.example.com resolves to 169.254.169.254, a link-local "
            "address: Fusebox only calls authorizers on the public internet."
        )
        assert answer.error == expected[:150]

    def test_plain_http_is_refused_at_the_call_too(self, authorizer: Authorizer) -> None:
        answer = external.call(_request(authorizer.url))  # stored before the switch went off
        assert answer.error == "refused URL: The external authorizer must be an https:// URL."
        assert authorizer.received == []

    def test_the_call_connects_to_the_address_checked(
        self, authorizer: Authorizer, fake_dns: FakeDns, local_authorizers: None
    ) -> None:
        """One lookup per call (ours); the connection goes to what it answered, whatever a
        second lookup would say (``authorizer.localhost`` is unknown to the system's DNS, and a
        second answer from ours would point at nothing)."""
        answers = iter([["127.0.0.1"], ["127.0.0.2"]])
        fake_dns.names["authorizer.localhost"] = lambda: next(answers)
        answer = external.call(_request(authorizer.url))
        assert (answer.status, answer.error) == ("Accepted", "")
        assert fake_dns.lookups == ["authorizer.localhost"]
        port = authorizer.server.server_address[1]
        assert authorizer.received[0].headers["Host"] == f"authorizer.localhost:{port}"


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_authorizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_authorizers: None
) -> Iterator[Any]:
    """An https authorizer at ``authorizer.localhost`` (127.0.0.1) with a certificate for the
    name given, which the client trusts."""
    servers: list[Authorizer] = []

    def start(certificate_name: str) -> Authorizer:
        cert, key = _certificate(tmp_path, certificate_name)
        server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_side.load_cert_chain(cert, key)
        client_side = ssl.create_default_context(cafile=str(cert))
        monkeypatch.setattr(egress, "_tls", client_side)
        servers.append(Authorizer(tls=server_side, host="authorizer.localhost").start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class TestTls:
    def test_tls_to_the_pinned_address_checks_the_certificate_of_the_url_host(
        self, tls_authorizer: Any
    ) -> None:
        authorizer = tls_authorizer("authorizer.localhost")
        assert authorizer.url.startswith("https://authorizer.localhost:")
        answer = external.call(_request(authorizer.url))
        assert (answer.status, answer.error) == ("Accepted", "")

    def test_a_certificate_for_another_name_is_a_connection_error(
        self, tls_authorizer: Any
    ) -> None:
        authorizer = tls_authorizer("someone-else.localhost")
        answer = external.call(_request(authorizer.url))
        assert answer.status is None
        assert answer.error.startswith("connection error:")
        assert "certificate" in answer.error.lower() or "hostname" in answer.error.lower()
