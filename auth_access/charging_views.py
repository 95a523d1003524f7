"""Start and stop charging from the portal: the "Charging" panel of a charger's page.

The panel (``{% charging_panel charger %}``, ``auth_access.templatetags.access_ui``) shows per
connector what the user may do: "Start charging" on a free connector of an online charger where
the one decision function accepts a start from the portal by them, "Stop charging" on their own
session in progress (owners and installers: on any). Starting calls
``auth_access.remote.start_charging`` (which decides again, records the decision and sends
RemoteStartTransaction through the command path); the panel then shows the start's outcome
(``RemoteStart.refresh_outcome``, stored): pending (sent, no answer yet), accepted (plug in the
car), started, rejected or expired. Whether to offer "Start charging" is ``remote.may_start``. While something
is pending, ``static/js/access.js`` reloads the panel from ``charging_panel`` every
``PENDING_POLL_MS``; without JavaScript a "Check again" link does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic.detail import SingleObjectMixin

from auth_access import remote, services
from auth_access.choices import RemoteStartStatus, ReservationStatus
from auth_access.models import RemoteStart, Reservation
from auth_access.virtual_tags import virtual_id_tag
from chargers.choices import ConnectorStatus, SessionStatus
from chargers.models import Charger, ChargeSession, Connector
from commands import routing
from commands.choices import CommandSource, CommandStatus
from portal.tenancy import Action
from portal.views import TenantMixin

if TYPE_CHECKING:
    from datetime import datetime

    from accounts.models import User

# A remote start needs a connector that is free: nothing plugged in, or a car waiting (or one
# reserved for the user).
FREE_STATUSES = {ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING}
PENDING_POLL_MS = 1500  # while a start waits for the charger's answer or the car
SESSION_POLL_MS = 10_000  # while the user charges here (energy, the end of the session)
STOP_WAIT_S = 3.0  # a stop waits this long for the charger's answer before the page returns


@dataclass(frozen=True)
class StartState:
    """Where a start from the portal stands, in words for the panel."""

    kind: str  # pending, accepted, started, rejected, expired
    title: str
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.kind in ("started", "rejected", "expired")


def start_state(remote_start: RemoteStart, now: datetime, time_zone: str) -> StartState:
    """The panel's words for where a start stands (``RemoteStart.refresh_outcome``: the one
    place that reads the command's answer and the clock, and stores what it finds)."""
    connector = f"connector {remote_start.connector_id}"
    outcome = remote_start.refresh_outcome(now)
    if outcome.status == RemoteStartStatus.STARTED:
        return StartState("started", f"Charging started on {connector}.")
    if outcome.status in (RemoteStartStatus.FAILED, RemoteStartStatus.REFUSED):
        return StartState("rejected", f"Not started on {connector}.", outcome.reason)
    if outcome.status == RemoteStartStatus.EXPIRED:
        return StartState("expired", outcome.reason, "Start again when ready.")
    if outcome.status == RemoteStartStatus.REQUESTED:
        return StartState(
            "pending", f"Waiting for the charger to answer ({connector})…", "Sent a moment ago."
        )
    until = remote_start.expires_at.astimezone(ZoneInfo(time_zone)).strftime("%H:%M")
    return StartState(
        "accepted",
        f"Accepted: plug in your car at {connector}.",
        f"Charging begins when the car is connected (until {until}).",
    )


@dataclass
class ConnectorRow:
    connector: Connector
    session: ChargeSession | None  # in progress, when the user may see it
    own: bool
    may_start: bool
    may_stop: bool


def charging_context(request: HttpRequest, charger: Charger) -> dict[str, Any]:
    """Everything the panel shows to ``request.user`` about ``charger`` (reached through
    ``restrict`` by the caller; ``charger.installation`` loaded)."""
    user: User = request.user  # type: ignore[assignment]
    now = timezone.now()
    connectors = (
        Connector.objects.restrict(user, Action.VIEW)
        .filter(charger=charger)
        .order_by("connector_id")
    )
    sessions = {
        session.connector_id: session
        for session in ChargeSession.objects.restrict(user, Action.VIEW)
        .filter(charger=charger, status=SessionStatus.ACTIVE)
        .select_related("user")
    }
    operates = Charger.objects.restrict(user, Action.OPERATE).filter(pk=charger.pk).exists()
    allowed = charger.is_online and remote.may_start(user, charger, now)
    latest = (
        RemoteStart.objects.restrict(user, Action.VIEW)
        .filter(charger=charger, user=user, created_at__gte=now - remote.REMOTE_START_WINDOW)
        .exclude(status=RemoteStartStatus.REFUSED)  # said at once, as a message
        .select_related("command")
        .first()
    )
    # Connectors reserved for this user (0: any): theirs to start on while the charger says Reserved.
    # Only those held for their app idTag: one held for a card starts with that card.
    held = set(
        Reservation.objects.restrict(user, Action.VIEW)
        .filter(charger=charger, user=user, status=ReservationStatus.ACTIVE, expires_at__gt=now)
        .filter(id_tag__iexact=virtual_id_tag(user.pk))
        .values_list("connector_id", flat=True)
    )
    state = start_state(latest, now, charger.installation.time_zone) if latest else None
    waiting_on = latest.connector_id if latest and state and not state.final else None
    rows = []
    for connector in connectors:
        session = sessions.get(connector.pk)
        own = session is not None and session.user_id == user.pk
        reserved_for_user = connector.status == ConnectorStatus.RESERVED and bool(
            held & {0, connector.connector_id}
        )
        free = session is None and (connector.status in FREE_STATUSES or reserved_for_user)
        rows.append(
            ConnectorRow(
                connector,
                session,
                own,
                may_start=allowed and free and connector.connector_id != waiting_on,
                may_stop=session is not None and (own or operates),
            )
        )
    poll_ms = None
    if state and not state.final:
        poll_ms = PENDING_POLL_MS
    elif any(row.own for row in rows):
        poll_ms = SESSION_POLL_MS
    return {
        "charger": charger,
        "rows": rows,
        "may_start": allowed,
        "state": state,
        "poll_ms": poll_ms,
    }


class ChargerChargingMixin(TenantMixin, SingleObjectMixin):
    """A charger the user may see (drivers: those they may charge on)."""

    model = Charger

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.distinct().select_related("installation")


class ChargingPanelView(ChargerChargingMixin, View):
    """The panel alone (HTML fragment), for the page's polling."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.get_object()
        context = charging_context(request, charger)
        context["fragment"] = True
        return render(request, "auth_access/_charging.html", context)


class StartChargingView(ChargerChargingMixin, View):
    """Start charging on a connector as yourself (RemoteStartTransaction)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.get_object()
        connector_id = request.POST.get("connector_id", "")
        if not connector_id.isdigit():
            messages.error(request, "Choose a connector.")
        else:
            try:
                remote.start_charging(
                    request.user,  # type: ignore[arg-type]
                    charger,
                    int(connector_id),
                    source=CommandSource.UI,
                )
            except services.AccessError as error:
                messages.error(request, str(error))
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return redirect(reverse("chargers:detail", args=[charger.pk]) + "#charging")


class StopChargingView(TenantMixin, View):
    """Stop a session in progress (RemoteStopTransaction): your own, or any where you operate."""

    model = ChargeSession
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session = get_object_or_404(
            self.get_queryset().select_related("charger"), pk=kwargs["session_pk"]
        )
        charger = session.charger
        try:
            command = remote.stop_charging(
                request.user,  # type: ignore[arg-type]
                session,
                source=CommandSource.UI,
            )
        except services.AccessError as error:
            messages.error(request, str(error))
        else:
            if not command.is_final:
                command = routing.wait_for_command(command, STOP_WAIT_S)
            if command.status == CommandStatus.ACCEPTED:
                messages.success(
                    request,
                    f"{charger.name} accepted the stop; the session ends as soon as it reports it.",
                )
            elif not command.is_final:
                messages.info(request, f"Stop sent to {charger.name}; waiting for its answer.")
            else:
                reason = command.error or command.get_status_display()
                messages.error(request, f"{charger.name} did not stop charging: {reason}")
        return redirect(reverse("chargers:detail", args=[charger.pk]) + "#charging")
