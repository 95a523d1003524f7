"""Security profile 2: TLS with certificate verification (a custom CA) and HTTP Basic."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import World
from tests.ocpp.conftest import Chargers, eventually
from tests.upstream.central import Central
from tests.upstream.conftest import boot, bridge_to
from upstream.choices import LinkState, SecurityProfile
from upstream.models import UpstreamLink


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test upstream CA"))
        .issuer_name(_name("Test upstream CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    """A server context for "localhost" signed by a fresh CA, and the CA's PEM."""
    ca_key, ca = _ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = tmp_path / "server.pem"
    chain.write_text(_pem(cert) + _pem(ca))
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key_file)
    return context, _pem(ca)


@pytest.fixture
def tls_central(tls: tuple[ssl.SSLContext, str]) -> Central:
    system = Central(ssl_context=tls[0]).start()
    yield system
    system.close()


def test_profile_2_verifies_upstream_against_the_custom_ca(
    world: World, tls_central: Central, tls: tuple[ssl.SSLContext, str], chargers: Chargers
) -> None:
    identity = world.charger_a1.ocpp_identity
    tls_central.passwords[identity] = "over-tls"
    bridge_to(
        tls_central,
        world.charger_a1,
        security_profile=SecurityProfile.TLS_BASIC,
        password="over-tls",
        ca_certificate=tls[1],
    )
    boot(chargers.connect(world.charger_a1, accepted=False))
    eventually(lambda: tls_central.of(identity, "BootNotification"))
    assert tls_central.violations == []


def test_profile_2_refuses_a_certificate_it_cannot_verify(
    world: World, tls_central: Central, chargers: Chargers
) -> None:
    _, other_ca = _ca()
    bridge_to(
        tls_central,
        world.charger_a1,
        security_profile=SecurityProfile.TLS_BASIC,
        password="over-tls",
        ca_certificate=_pem(other_ca),
    )
    boot(chargers.connect(world.charger_a1, accepted=False))
    link = eventually(
        lambda: UpstreamLink.objects.filter(
            charger=world.charger_a1, state=LinkState.UNREACHABLE
        ).first(),
        timeout=8,
    )
    assert "CERTIFICATE_VERIFY_FAILED" in link.reason
    assert tls_central.received == []
