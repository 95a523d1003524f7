"""The "Reservations" section of a charger's page: hold a connector for a driver, and cancel.

Owners and installers reserve (``auth_access.reservations.reserve``: the rules, ReserveNow
through the command path) and see the charger's open and recent reservations; a driver sees
those held for them there, and may cancel them. The section is ``{% reservations_panel charger
%}`` (``auth_access.templatetags.access_ui``); the forms post here and come back to it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View

from auth_access import reservations, services
from auth_access.charging_views import ChargerChargingMixin
from auth_access.choices import ReservationStatus
from auth_access.forms import ReservationForm
from auth_access.models import ChargeCard, Reservation
from chargers.models import Charger
from commands import routing
from commands.choices import CommandSource
from portal.tenancy import Action
from portal.views import TenantMixin

if TYPE_CHECKING:
    from accounts.models import User

RECENT = timedelta(days=7)  # ended reservations stay listed this long
LISTED = 20
ANSWER_WAIT_S = 3.0  # the page waits this long for the charger's answer


def reservation_form(user: User, charger: Charger, data: Any = None) -> ReservationForm:
    """The form for ``charger`` (reached through ``restrict`` by the caller)."""
    connector_ids = list(
        charger.connectors.order_by("connector_id").values_list("connector_id", flat=True)
    )
    cards = (
        ChargeCard.objects.restrict(user, Action.OPERATE)
        .filter(installation_id=charger.installation_id, is_blocked=False)
        .select_related("user")
        .order_by("user__name", "id_tag")
    )
    drivers = reservations.drivers_for(charger).order_by("name", "email")
    return ReservationForm(
        data,
        connector_ids=connector_ids,
        any_connector=reservations.reserves_any_connector(charger),
        drivers=drivers,
        cards=cards,
    )


def reservations_context(request: HttpRequest, charger: Charger) -> dict[str, Any]:
    """What the section shows ``request.user``: the form (owners, installers) and the open and
    recent reservations they may see on ``charger``."""
    user: User = request.user  # type: ignore[assignment]
    now = timezone.now()
    operates = Charger.objects.restrict(user, Action.OPERATE).filter(pk=charger.pk).exists()
    takes = reservations.takes_reservations(charger)
    listed = (
        Reservation.objects.restrict(user, Action.VIEW)
        .filter(charger=charger)
        .filter(Q(status__in=Reservation.OPEN_STATUSES) | Q(created_at__gte=now - RECENT))
        .select_related("user", "created_by", "card")
        .order_by("-created_at", "-id")[:LISTED]
    )
    return {
        "charger": charger,
        "operates": operates,
        "reservations": list(listed),
        "form": reservation_form(user, charger) if operates and takes else None,
        "takes_reservations": takes,
        "user": user,
    }


def _back(charger_pk: int) -> HttpResponse:
    return redirect(reverse("chargers:detail", args=[charger_pk]) + "#reservations")


def _person(user: User) -> str:
    return user.name or user.email


class ReserveView(ChargerChargingMixin, View):
    """Reserve a connector for a driver (owners and installers): ReserveNow."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.get_object()
        user: User = request.user  # type: ignore[assignment]
        form = reservation_form(user, charger, request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else error)
            return _back(charger.pk)
        data = form.cleaned_data
        try:
            reservation = reservations.reserve(
                user,
                charger,
                data["connector_id"],
                data["user"],
                timezone.now() + timedelta(minutes=data["minutes"]),
                card=data["card"],
                source=CommandSource.UI,
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return _back(charger.pk)
        except services.AccessError as error:
            messages.error(request, str(error))
            return _back(charger.pk)
        command = reservation.reserve_command
        if command is not None and not command.is_final:
            routing.wait_for_command(command, ANSWER_WAIT_S)
        reservation.refresh_from_db()
        where = f"{reservation.connector_label} of {charger.name}"
        until = timezone.localtime(
            reservation.expires_at, reservations.local_zone(charger)
        ).strftime("%H:%M")
        if reservation.status == ReservationStatus.ACTIVE:
            messages.success(
                request, f"{where} is reserved for {_person(data['user'])} until {until}."
            )
        elif reservation.status == ReservationStatus.REQUESTED:
            messages.info(request, f"Reservation sent to {charger.name}; waiting for its answer.")
        else:
            messages.error(
                request, f"{charger.name} did not take the reservation: {reservation.reason}"
            )
        return _back(charger.pk)


class CancelReservationView(TenantMixin, View):
    """Cancel a reservation (CancelReservation): the driver's own, or any where you operate."""

    model = Reservation
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        reservation = get_object_or_404(
            self.get_queryset().select_related("charger"), pk=kwargs["reservation_pk"]
        )
        try:
            reservations.cancel(
                request.user,  # type: ignore[arg-type]
                reservation,
                source=CommandSource.UI,
            )
        except (services.AccessError, ValidationError) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            messages.error(request, text)
        else:
            messages.success(
                request,
                f"Reservation {reservation.pk} cancelled; {reservation.charger.name} was told.",
            )
        return _back(reservation.charger_id)
