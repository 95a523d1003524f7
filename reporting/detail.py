"""One session in full: who started and stopped it and how, its energy and power over time, and
its hourly energy, its signed meter values (the session detail page and
``GET /api/v1/sessions/{id}/energy/``).

How a session started: from the app or portal (a ``RemoteStart`` that led to it), by a remote
command someone sent (a RemoteStartTransaction to its charger with its idTag shortly before it
began), or with a card (its idTag is a known card) or an idTag Fusebox knows no card for. How it
stopped: by a remote command (a RemoteStopTransaction of its transaction, or the charger said
Remote), with a card at the charger (the StopTransaction named an idTag), at the charger or by
the car, or *estimated*: Fusebox closed it on the evidence (``stop_inferred``) with the reason.
Commands and remote starts are read through the tenancy gate too: a driver learns how their
session was stopped, but not which manager sent a command they may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from auth_access.models import RemoteStart
from chargers.models import ChargeSession
from chargers.models.session import SignedMeterValue
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command
from portal.tenancy import Action
from reporting.energy import (
    Curve,
    Interval,
    bucket_starts,
    cumulative,
    power_from_curve,
    power_from_samples,
    split,
    thin,
)
from reporting.meter import meters, power_samples, session_end
from reporting.tables import card_label

# A remote start command this long before the session began may have started it (and a
# remote stop is looked for this long around the session: the charger's clock may be off).
REMOTE_START_WINDOW = timedelta(minutes=15)
CURVE_POINTS = 600  # points of a curve on the page (the API may ask for more)


class StartMethod(models.TextChoices):
    APP = "app", "App or portal"
    REMOTE = "remote", "Remote command"
    CARD = "card", "Card"
    ID_TAG = "id_tag", "idTag"


class StopMethod(models.TextChoices):
    REMOTE = "remote", "Remote stop"
    CARD = "card", "Card at the charger"
    CHARGER = "charger", "At the charger or by the car"
    INFERRED = "inferred", "Estimated"


@dataclass(frozen=True)
class How:
    """Who started or stopped a session, and how (``by`` and ``detail`` may be empty)."""

    method: str
    label: str
    by: str = ""
    detail: str = ""


@dataclass
class SessionDetail:
    session: ChargeSession  # with the facts of ``queries.with_facts``
    zone: ZoneInfo
    started: How
    stopped: How | None
    curve: Curve
    power: list[tuple[datetime, float]]
    power_measured: bool  # from Power.Active.Import samples, else averaged from the energy
    hours: list[tuple[datetime, int]] = field(default_factory=list)  # local hours, Wh
    signed: list[SignedMeterValue] = field(default_factory=list)  # verbatim, in time order


def _person(user: Any) -> str:
    return (user.name or user.email) if user is not None else ""


def _source(source: str) -> str:
    return CommandSource(source).label if source in CommandSource.values else source


def started_how(session: ChargeSession, viewer: Any) -> How:
    remote = (
        RemoteStart.objects.restrict(viewer, Action.VIEW)
        .filter(session_id=session.pk)
        .select_related("user", "command")
        .first()
    )
    if remote is not None:
        detail = _source(remote.command.source) if remote.command else ""
        return How(StartMethod.APP, StartMethod.APP.label, _person(remote.user), detail)
    command = (
        Command.objects.restrict(viewer, Action.VIEW)
        .filter(
            charger_id=session.charger_id,
            action=CommandAction.REMOTE_START_TRANSACTION,
            status=CommandStatus.ACCEPTED,
            created_at__gte=session.started_at - REMOTE_START_WINDOW,
            created_at__lte=session.started_at + timedelta(minutes=1),
            payload__idTag=session.id_tag,
        )
        .select_related("requested_by")
        .order_by("-created_at")
        .first()
    )
    if command is not None:
        by = _person(command.requested_by) or "Fusebox"
        return How(StartMethod.REMOTE, StartMethod.REMOTE.label, by, _source(command.source))
    if session.card_id is not None:
        owner = _person(session.user)
        return How(StartMethod.CARD, StartMethod.CARD.label, card_label(session), owner)
    return How(StartMethod.ID_TAG, StartMethod.ID_TAG.label, session.id_tag)


def stopped_how(session: ChargeSession, viewer: Any) -> How | None:
    if session.stopped_at is None:
        return None
    reason = session.get_stop_reason_display() if session.stop_reason else ""
    if session.stop_inferred:
        return How(StopMethod.INFERRED, StopMethod.INFERRED.label, "", reason)
    command = (
        Command.objects.restrict(viewer, Action.VIEW)
        .filter(
            charger_id=session.charger_id,
            action=CommandAction.REMOTE_STOP_TRANSACTION,
            # Bounded in time, so the charger's index reads a range, not its every command.
            created_at__gte=session.started_at - REMOTE_START_WINDOW,
            created_at__lte=session.stopped_at + REMOTE_START_WINDOW,
            payload__transactionId=session.pk,
        )
        .exclude(status=CommandStatus.REFUSED)
        .select_related("requested_by")
        .order_by("created_at")
        .first()
    )
    if command is not None:
        by = _person(command.requested_by) or "Fusebox"
        return How(StopMethod.REMOTE, StopMethod.REMOTE.label, by, _source(command.source))
    if session.stop_reason == "Remote":
        return How(StopMethod.REMOTE, StopMethod.REMOTE.label, "", reason)
    if session.stop_id_tag:
        same = session.stop_id_tag == session.id_tag
        by = card_label(session) if same else session.stop_id_tag
        return How(StopMethod.CARD, StopMethod.CARD.label, by, reason)
    return How(StopMethod.CHARGER, StopMethod.CHARGER.label, "", reason)


def session_detail(
    session: ChargeSession,
    viewer: Any,
    *,
    zone: ZoneInfo | None = None,
    points: int = CURVE_POINTS,
) -> SessionDetail:
    """Everything the detail page shows of ``session`` (one that went through the gate, with
    ``connector``, ``charger__installation``, ``user`` and ``card`` loaded): hours of ``zone``
    (default: the installation's; the API asks for UTC), curves of at most ``points`` points."""
    now = timezone.now()
    zone = zone or ZoneInfo(session.charger.installation.time_zone)
    curve = cumulative(meters([session], now)[session.pk])
    samples = power_samples(session, now)
    power = power_from_samples(samples) if samples else power_from_curve(curve)
    end = session_end(session, now)
    hours = split(curve, bucket_starts(session.started_at, end, zone, Interval.HOUR))
    return SessionDetail(
        session=session,
        zone=zone,
        started=started_how(session, viewer),
        stopped=stopped_how(session, viewer),
        curve=Curve(thin(curve.points, points), curve.estimated),
        power=thin(power, points),
        power_measured=bool(samples),
        hours=sorted(hours.items()),
        signed=list(signed_values(session, viewer)),
    )


def signed_values(session: ChargeSession, viewer: Any) -> QuerySet[SignedMeterValue]:
    """The signed meter values of ``session`` that ``viewer`` may see, in time order."""
    return (
        SignedMeterValue.objects.restrict(viewer, Action.VIEW)
        .filter(session=session)
        .order_by("timestamp", "id")
    )
