"""Upstream configuration workflows: the rules a setting must pass (one set for the pages and
the API), saving and deleting (the bridge is told on commit), and each charger's status.

The rules (docs/upstream.md "Configuration"): the URL is ``ws://`` or ``wss://`` and passes the
SSRF guard (``auth_access.egress``, resolved at save; local addresses only with
``UPSTREAM_ALLOW_LOCAL``); profile 2 needs ``wss://``; profiles 1 and 2 need a password of 16 to
40 characters (OCPP 1.6 security whitepaper); a custom CA is a PEM certificate; the identity,
once ``{identity}`` is replaced, is a valid OCPP identity; only known commands may be allowed.
"""

from __future__ import annotations

import ssl
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from auth_access import egress
from chargers.models import Charger, ocpp_identity_validator
from upstream import outbox
from upstream.choices import LinkState, SecurityProfile, UpstreamCommand
from upstream.models import IDENTITY_PLACEHOLDER, UpstreamLink, UpstreamMessage, UpstreamSettings

PASSWORD_MIN, PASSWORD_MAX = 16, 40  # OCPP 1.6 security whitepaper, HTTP Basic passwords
SAMPLE_IDENTITY = "CP-1"  # stands in for {identity} when the URL is checked


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why Fusebox will not connect to ``url`` (scheme, form, SSRF guard), or None."""
    return egress.problem(
        url.replace(IDENTITY_PLACEHOLDER, SAMPLE_IDENTITY),
        allow_local=settings.UPSTREAM_ALLOW_LOCAL,
        purpose=egress.UPSTREAM,
        resolve_host=resolve,
    )


def certificate_problem(pem: str) -> str | None:
    """Why ``pem`` is not a usable CA certificate, or None."""
    try:
        x509.load_pem_x509_certificates(pem.encode())
        ssl.create_default_context(cadata=pem)
    except (ValueError, ssl.SSLError):
        return "Paste one or more PEM certificates (-----BEGIN CERTIFICATE----- ...)."
    return None


def validate(row: UpstreamSettings, *, resolve: bool = True) -> None:
    """Raise ``ValidationError`` (by field) unless ``row`` may be saved."""
    errors: dict[str, list[str]] = defaultdict(list)
    if row.charger_id is not None and row.charger.installation_id != row.installation_id:
        errors["charger"].append("This charger belongs to another installation.")
    if row.enabled or row.url:
        if not row.url:
            errors["url"].append("Enter the central system's ws:// or wss:// URL.")
        else:
            problem = url_problem(row.url, resolve=resolve)
            if problem:
                errors["url"].append(problem)
            elif (
                row.security_profile == SecurityProfile.TLS_BASIC
                and not row.url.lower().startswith("wss://")
            ):
                errors["security_profile"].append("Security profile 2 (TLS) needs a wss:// URL.")
    if row.enabled and row.security_profile in (SecurityProfile.BASIC, SecurityProfile.TLS_BASIC):
        if not row.password:
            errors["password"].append("Security profiles 1 and 2 need a password.")
        elif not PASSWORD_MIN <= len(row.password) <= PASSWORD_MAX:
            errors["password"].append(
                f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long "
                "(OCPP 1.6 security whitepaper)."
            )
    if row.ca_certificate.strip():
        problem = certificate_problem(row.ca_certificate)
        if problem:
            errors["ca_certificate"].append(problem)
    identity_problem = _identity_problem(row)
    if identity_problem:
        errors["identity"].append(identity_problem)
    known = set(UpstreamCommand.values)
    unknown = sorted(set(row.allowed_commands) - known)
    if unknown:
        errors["allowed_commands"].append(f"Unknown commands: {', '.join(unknown)}.")
    if errors:
        raise ValidationError(dict(errors))


def _identity_problem(row: UpstreamSettings) -> str | None:
    template = row.identity
    if not template:
        return None
    if row.charger_id is None and IDENTITY_PLACEHOLDER not in template:
        return (
            f"An installation's identity must hold {IDENTITY_PLACEHOLDER} (else every charger "
            "would present the same one); set a fixed identity on a charger's override."
        )
    chargers: Iterable[str] = (
        [row.charger.ocpp_identity]
        if row.charger_id is not None
        else Charger.objects.filter(installation_id=row.installation_id).values_list(
            "ocpp_identity", flat=True
        )
    )
    for identity in [SAMPLE_IDENTITY, *chargers]:
        presented = template.replace(IDENTITY_PLACEHOLDER, identity)
        if ocpp_identity_validator.regex.fullmatch(presented) is None:
            return (
                f"'{presented}' is not a valid OCPP identity: 1-48 letters, digits, '.', '_', "
                "':' or '-'."
            )
    return None


def save_settings(row: UpstreamSettings, *, password: str | None = None) -> UpstreamSettings:
    """Check and save ``row`` (a new ``password`` when given; None or empty keeps the stored
    one) and tell the bridge on commit."""
    if password:
        row.password = password
    validate(row)
    with transaction.atomic():
        row.save()
        outbox.settings_changed(row.installation_id)
    return row


def delete_settings(row: UpstreamSettings) -> None:
    """Delete ``row`` (the installation's default or a charger's override); the bridge is told."""
    with transaction.atomic():
        installation_id = row.installation_id
        row.delete()
        outbox.settings_changed(installation_id)


# --- status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerStatus:
    """One charger's upstream status as the pages and the API show it."""

    charger: Charger
    bridged: bool
    source: str  # "override", "installation" or "" (no settings apply)
    url: str  # the URL the link opens ("" when not bridged)
    identity: str  # the identity presented upstream
    state: str  # a LinkState, or "" when the bridge has not seen the charger bridged yet
    reason: str
    since: datetime | None
    boot_status: str
    last_sent_at: datetime | None
    last_sent_action: str
    last_received_at: datetime | None
    last_received_action: str
    queued: int  # transaction messages not yet delivered
    failed: int = 0  # transaction messages given up (outbox.MAX_ATTEMPTS)
    last_failure: str = ""  # the last one given up: its action and why

    @property
    def state_label(self) -> str:
        return LinkState(self.state).label if self.state else "Not seen yet"


def charger_statuses(chargers: Iterable[Charger]) -> list[ChargerStatus]:
    """The upstream status of ``chargers`` (already through the tenancy gate), in order; a
    fixed number of queries whatever their count."""
    chargers = list(chargers)
    ids = [c.pk for c in chargers]
    installations = {c.installation_id for c in chargers}
    rows: dict[tuple[int, int | None], UpstreamSettings] = {
        (row.installation_id, row.charger_id): row
        for row in UpstreamSettings.objects.filter(installation_id__in=installations)
    }
    links = {link.charger_id: link for link in UpstreamLink.objects.filter(charger_id__in=ids)}
    queued = dict(
        UpstreamMessage.objects.filter(charger_id__in=ids, sent_at__isnull=True)
        .values("charger_id")
        .annotate(count=Count("id"))
        .values_list("charger_id", "count")
    )
    failures = outbox.failures(ids)
    statuses = []
    for charger in chargers:
        override = rows.get((charger.installation_id, charger.pk))
        row = override or rows.get((charger.installation_id, None))
        bridged = row is not None and row.enabled
        link = links.get(charger.pk)
        statuses.append(
            ChargerStatus(
                charger=charger,
                bridged=bridged,
                source=("override" if override else "installation") if row else "",
                url=row.connect_url(charger) if bridged and row else "",
                identity=row.presented_identity(charger) if bridged and row else "",
                state=link.state if link else "",
                reason=link.reason if link else "",
                since=link.since if link else None,
                boot_status=link.boot_status if link else "",
                last_sent_at=link.last_sent_at if link else None,
                last_sent_action=link.last_sent_action if link else "",
                last_received_at=link.last_received_at if link else None,
                last_received_action=link.last_received_action if link else "",
                queued=queued.get(charger.pk, 0),
                failed=failures[charger.pk].count if charger.pk in failures else 0,
                last_failure=_failure_text(failures.get(charger.pk)),
            )
        )
    return statuses


def _failure_text(failures: outbox.Failures | None) -> str:
    if failures is None:
        return ""
    return f"{failures.last_action}: {failures.last_error}"[:300]
