"""Reserving a connector for a driver (OCPP 1.6 ReserveNow / CancelReservation).

``reserve(actor, charger, connector_id, driver, expires_at, card=None)``: an owner or installer
holds a connector (0: any, where the charger supports it) for a member who may charge on that
charger, until ``expires_at`` (within ``MAX_RESERVATION``). The charger gets ReserveNow through
the command path with ``reservationId`` = the ``Reservation`` id and the idTag the driver will
present: a card registered for them at the installation, or their virtual idTag (they start
from the portal or app; a member's own cards are never sent, their numbers are not the
installation's to see). A connector already held (or any connector, when one of the two
reservations is for "any") cannot be reserved twice at once.

The charger's answer (``record_answer``, called by the bridge when the command ends) makes it
``active`` or ``rejected`` (Faulted, Occupied, Rejected, Unavailable, or the command failed).
``cancel(actor, reservation)`` (the owner or installer, or the driver themselves) ends it at
once and sends CancelReservation. A StartTransaction carrying the id (``use``, called by the
bridge) marks it ``used`` with its session. ``expire(now)`` (Celery beat) marks the ones past
their expiry ``expired`` and settles those whose command timed out; the charger drops an
expired reservation by itself.

A bridged charger's upstream central system reserves and cancels through
``reserve_for_upstream`` / ``cancel_for_upstream`` (no Fusebox driver: held for upstream's
idTag, upstream's reservationId kept beside Fusebox's, docs/upstream.md).

Errors of input are ``ValidationError`` (400 in the API, naming the field); an actor without
the right is ``AccessError`` (403).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from auth_access.choices import ReservationStatus
from auth_access.models import ChargeCard, ChargerPermission, Reservation
from auth_access.services import AccessError
from auth_access.virtual_tags import virtual_id_tag
from chargers.models import Charger
from commands import routing
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import FINAL_STATUSES, Command
from installations.choices import Role
from installations.models import Membership
from portal.tenancy import Action

if TYPE_CHECKING:
    from accounts.models import User

DEFAULT_RESERVATION = timedelta(minutes=30)
MIN_RESERVATION = timedelta(minutes=1)
MAX_RESERVATION = timedelta(hours=24)
# A duration is turned into an expiry when the request is read, checked a moment later.
EXPIRY_SLACK = timedelta(seconds=10)
COMMAND_TIMEOUT_S = 30.0
UPSTREAM_COMMAND_TIMEOUT_S = 20.0  # upstream waits for the answer (usually 30 s)
EXPIRIES_PER_SWEEP = 1000

# What the charger's ReserveNow statuses mean, in words.
CHARGER_ANSWERS = {
    "Faulted": "The charger reports a fault on that connector.",
    "Occupied": "The connector is in use (a car or another reservation).",
    "Rejected": "The charger does not take reservations (on that connector).",
    "Unavailable": "The connector is unavailable.",
}
COMMAND_FAILURES = {
    CommandStatus.TIMED_OUT: "The charger did not answer.",
    CommandStatus.FAILED: "The command failed.",
}


def drivers_for(charger: Charger) -> QuerySet[User]:
    """Who a connector of ``charger`` may be reserved for: active members who may charge on it
    (owners, installers, drivers allowed on the whole installation or named on this charger)."""
    from accounts.models import User

    members = Membership.objects.filter(installation_id=charger.installation_id)
    allowed = members.filter(
        Q(role__in=[Role.OWNER, Role.INSTALLER])
        | Q(may_charge_everywhere=True)
        | Q(pk__in=ChargerPermission.objects.filter(charger=charger).values("membership_id"))
    )
    return User.objects.filter(is_active=True, pk__in=allowed.values("user_id"))


def may_charge_on(driver: User, charger: Charger) -> bool:
    """Is ``driver`` one of ``drivers_for(charger)``?"""
    return drivers_for(charger).filter(pk=driver.pk).exists()


def _id_tag(driver: User, charger: Charger, card: ChargeCard | None, now: datetime) -> str:
    if card is None:
        return virtual_id_tag(driver.pk)
    if card.user_id != driver.pk or card.installation_id != charger.installation_id:
        raise ValidationError(
            {"card": "Choose a card registered for this driver at this installation."}
        )
    if card.is_blocked:
        raise ValidationError({"card": "This card is blocked."})
    if card.expires_at is not None and card.expires_at <= now:
        raise ValidationError({"card": "This card has expired."})
    return card.id_tag


def _reported(charger: Charger, key: str) -> str | None:
    """A configuration key's value as the charger reported it at its last boot (None: not
    reported, or never read); keys compared case-insensitively."""
    for name, (value, _) in charger.reported_configuration().items():
        if name.casefold() == key.casefold():
            return value
    return None


def takes_reservations(charger: Charger) -> bool:
    """False when the charger's SupportedFeatureProfiles, as read at its last boot, leaves out
    Reservation; True otherwise (not read yet: the charger's answer will say)."""
    profiles = _reported(charger, "SupportedFeatureProfiles")
    if profiles is None:
        return True
    return "reservation" in {p.strip().casefold() for p in profiles.split(",")}


def reserves_any_connector(charger: Charger) -> bool:
    """May connector 0 (any) be reserved: the charger has several connectors and did not report
    ReserveConnectorZeroSupported false."""
    supported = _reported(charger, "ReserveConnectorZeroSupported")
    return charger.connectors.count() > 1 and (supported or "true").strip().lower() == "true"


def local_zone(charger: Charger) -> ZoneInfo:
    """The time zone of ``charger``'s installation: expiries are told in it, as its drivers
    read them."""
    return ZoneInfo(charger.installation.time_zone)


def _check_connector(charger: Charger, connector_id: int) -> None:
    if not takes_reservations(charger):
        raise ValidationError(
            {
                "charger": f"{charger.name} does not take reservations (its "
                "SupportedFeatureProfiles leave out Reservation)."
            }
        )
    if connector_id == 0:
        if not reserves_any_connector(charger):
            raise ValidationError(
                {
                    "connector_id": f"{charger.name} does not reserve any connector (0): choose "
                    "a connector."
                }
            )
        return
    if not charger.connectors.filter(connector_id=connector_id).exists():
        raise ValidationError({"connector_id": f"{charger.name} has no connector {connector_id}."})


def _check_expiry(expires_at: datetime, now: datetime) -> None:
    if expires_at < now + MIN_RESERVATION - EXPIRY_SLACK:
        raise ValidationError({"expires_at": "The expiry must be at least a minute from now."})
    if expires_at > now + MAX_RESERVATION:
        hours = int(MAX_RESERVATION.total_seconds() // 3600)
        raise ValidationError({"expires_at": f"A reservation lasts at most {hours} hours."})


def _overlapping(charger: Charger, connector_id: int, now: datetime) -> Reservation | None:
    """An open reservation on the same connector (or on any, when either is for "any")."""
    held = Reservation.objects.filter(
        charger=charger, status__in=Reservation.OPEN_STATUSES, expires_at__gt=now
    )
    if connector_id != 0:
        held = held.filter(connector_id__in=[0, connector_id])
    return held.order_by("expires_at").first()


def held_for_another(
    charger: Charger, connector_id: int, user: User, now: datetime | None = None
) -> Reservation | None:
    """An open reservation of ``connector_id`` (or of any connector) of ``charger`` held for
    someone else than ``user``, or for a card of theirs: the charger would start there only for
    its idTag, not for their app idTag (OCPP 1.6 5.13)."""
    held = _overlapping(charger, connector_id, now or timezone.now())
    if held is None or held.id_tag.casefold() == virtual_id_tag(user.pk).casefold():
        return None
    return held


def reserve(
    actor: User,
    charger: Charger,
    connector_id: int,
    driver: User,
    expires_at: datetime,
    *,
    card: ChargeCard | None = None,
    source: CommandSource = CommandSource.API,
) -> Reservation:
    """Hold ``connector_id`` of ``charger`` for ``driver`` until ``expires_at`` and send
    ReserveNow. ``actor`` must operate the charger (AccessError); bad input is ValidationError.
    A charger that is offline makes the reservation ``rejected`` at once, with the reason."""
    if not Charger.objects.restrict(actor, Action.OPERATE).filter(pk=charger.pk).exists():
        raise AccessError("Only owners and installers of the installation reserve connectors.")
    now = timezone.now()
    _check_connector(charger, connector_id)
    _check_expiry(expires_at, now)
    if not may_charge_on(driver, charger):
        raise ValidationError(
            {"user": f"{driver.email} is not a member who may charge on {charger.name}."}
        )
    id_tag = _id_tag(driver, charger, card, now)
    with transaction.atomic():
        # One reservation at a time per charger is decided here: the row lock orders them.
        Charger.objects.select_for_update().filter(pk=charger.pk).first()
        held = _overlapping(charger, connector_id, now)
        if held is not None:
            until = timezone.localtime(held.expires_at, local_zone(charger)).strftime("%H:%M")
            raise ValidationError(
                {
                    "connector_id": f"{held.connector_label} of {charger.name} is already "
                    f"reserved (reservation {held.pk}, until {until})."
                }
            )
        reservation = Reservation.objects.create(
            charger=charger,
            connector_id=connector_id,
            user=driver,
            card=card,
            id_tag=id_tag,
            expires_at=expires_at,
            created_by=actor,
            created_at=now,
        )
        command = routing.issue_command(
            charger,
            CommandAction.RESERVE_NOW,
            reserve_now_payload(reservation),
            user=actor,
            source=source,
            timeout_s=COMMAND_TIMEOUT_S,
        )
        reservation.reserve_command = command
        fields = ["reserve_command"]
        if command.is_final:  # the charger is offline
            reservation.status, reservation.ended_at = ReservationStatus.REJECTED, now
            reservation.reason = command.error[:200]
            fields += ["status", "ended_at", "reason"]
        reservation.save(update_fields=fields)
    return reservation


def reserve_now_payload(reservation: Reservation) -> dict[str, Any]:
    """The ReserveNow request for ``reservation`` (expiry in UTC, whole seconds)."""
    expiry = reservation.expires_at.astimezone(UTC).replace(microsecond=0)
    return {
        "connectorId": reservation.connector_id,
        "expiryDate": expiry.isoformat().replace("+00:00", "Z"),
        "idTag": reservation.id_tag,
        "reservationId": reservation.pk,
    }


def outcome_of_answer(command: Command) -> tuple[ReservationStatus, str, str] | None:
    """(status, charger answer, reason) a final ReserveNow command leads to; None while open."""
    if not command.is_final:
        return None
    answer = command.response.get("status", "") if isinstance(command.response, dict) else ""
    if command.status == CommandStatus.ACCEPTED and answer == "Accepted":
        return ReservationStatus.ACTIVE, answer, ""
    if answer in CHARGER_ANSWERS:
        return ReservationStatus.REJECTED, answer, f"{answer}: {CHARGER_ANSWERS[answer]}"
    why = command.error or COMMAND_FAILURES.get(command.status, "The command failed.")
    return ReservationStatus.REJECTED, answer[:12], why[:200]


def record_answer(command_id: int) -> None:
    """The charger answered (or failed) ReserveNow ``command_id``: the reservation, still
    requested, becomes active or rejected (conditional UPDATE: a cancel or a start that came
    first wins). Called by the bridge when any command ends; other commands cost one lookup."""
    reservation_id = (
        Reservation.objects.filter(reserve_command_id=command_id).values_list("pk", flat=True)
    ).first()
    if reservation_id is None:
        return
    _settle(reservation_id, Command.objects.get(pk=command_id), timezone.now())


def _settle(reservation_id: int, command: Command, now: datetime) -> bool:
    found = outcome_of_answer(command)
    if found is None:
        return False
    status, answer, reason = found
    changes: dict[str, Any] = {"status": status, "charger_answer": answer, "reason": reason}
    if status == ReservationStatus.REJECTED:
        changes["ended_at"] = now
    settled = bool(
        Reservation.objects.filter(pk=reservation_id, status=ReservationStatus.REQUESTED).update(
            **changes
        )
    )
    if settled and command.status == CommandStatus.TIMED_OUT:
        _withdraw(reservation_id, command)
    return settled


def _withdraw(reservation_id: int, command: Command) -> None:
    """A ReserveNow that got no answer may still have reached the charger, which would then
    hold the connector until the expiry while Fusebox shows it free: send CancelReservation
    (a charger that never took it answers Rejected; nothing else changes)."""
    cancel = routing.issue_command(
        command.charger,
        CommandAction.CANCEL_RESERVATION,
        {"reservationId": reservation_id},
        source=CommandSource.SYSTEM,
        timeout_s=COMMAND_TIMEOUT_S,
    )
    Reservation.objects.filter(pk=reservation_id, cancel_command__isnull=True).update(
        cancel_command=cancel
    )


def cancel(
    actor: User, reservation: Reservation, *, source: CommandSource = CommandSource.API
) -> Reservation:
    """End ``reservation`` now and send CancelReservation (its answer is on ``cancel_command``).
    The driver it is for may cancel it, and whoever operates the charger."""
    own = reservation.user_id == actor.pk
    operates = Charger.objects.restrict(actor, Action.OPERATE).filter(pk=reservation.charger_id)
    if not own and not operates.exists():
        raise AccessError("You may cancel only your own reservations.")
    now = timezone.now()
    with transaction.atomic():
        ended = Reservation.objects.filter(
            pk=reservation.pk, status__in=Reservation.OPEN_STATUSES
        ).update(status=ReservationStatus.CANCELLED, cancelled_by=actor, ended_at=now)
        reservation.refresh_from_db()
        if not ended:
            raise ValidationError(
                f"This reservation has already ended ({reservation.get_status_display().lower()})."
            )
        reservation.cancel_command = routing.issue_command(
            reservation.charger,
            CommandAction.CANCEL_RESERVATION,
            {"reservationId": reservation.pk},
            user=actor,
            source=source,
            timeout_s=COMMAND_TIMEOUT_S,
        )
        reservation.save(update_fields=["cancel_command"])
    return reservation


def use(
    charger_id: int,
    connector_id: int,
    id_tag: str,
    reservation_id: int | None,
    session_id: int,
    now: datetime,
) -> int:
    """A StartTransaction began ``session_id`` at ``now`` (the charger's time): the open
    reservation it names (or, from a charger that leaves ``reservationId`` out, the one held for
    that idTag on that connector or on any) is ``used``; so is one the sweep expired meanwhile
    when the start came after it was made and before the expiry (sent late from the charger's
    offline queue). Conditional UPDATE, so a retried StartTransaction changes nothing."""
    if reservation_id is not None:
        which = Q(pk=reservation_id)
    else:
        which = Q(id_tag__iexact=id_tag, connector_id__in=[0, connector_id])
    # Open, or expired by the sweep although the start came in time (a charger's offline queue)
    # and after it was made (not a clock in the past taking every expired one).
    usable = Q(status__in=Reservation.OPEN_STATUSES) | Q(
        status=ReservationStatus.EXPIRED, expires_at__gte=now, created_at__lte=now
    )
    return Reservation.objects.filter(which, usable, charger_id=charger_id).update(
        status=ReservationStatus.USED, session_id=session_id, ended_at=now
    )


def reserve_for_upstream(
    charger_id: int,
    connector_id: int,
    id_tag: str,
    parent_id_tag: str,
    expires_at: datetime,
    upstream_id: int,
    upstream_host: str,
) -> tuple[int | None, str]:
    """Upstream's ReserveNow at a bridged charger (docs/upstream.md, "Reservations from
    upstream"): a ``Reservation`` with no driver, held for upstream's idTag, sent to the charger
    with Fusebox's id. The site's rules apply as to any reservation: the charger takes
    reservations, connector 0 only where it may be reserved, an expiry from a minute to
    ``MAX_RESERVATION`` ahead, one open reservation per connector (or per charger for 0).
    Upstream's id of a reservation it already holds here replaces that one (OCPP 1.6 5.13).

    Returns (the pending ReserveNow command to execute, "") or (None, the status to answer
    upstream without asking the charger: Rejected or Occupied)."""
    charger = Charger.objects.get(pk=charger_id)
    now = timezone.now()
    try:
        _check_connector(charger, connector_id)
        _check_expiry(expires_at, now)
    except ValidationError:
        return None, "Rejected"
    with transaction.atomic():
        Charger.objects.select_for_update().filter(pk=charger.pk).first()
        replaced = Reservation.objects.filter(
            charger=charger,
            upstream_reservation_id=upstream_id,
            status__in=Reservation.OPEN_STATUSES,
        ).exclude(upstream_host="")
        held = Reservation.objects.filter(
            charger=charger, status__in=Reservation.OPEN_STATUSES, expires_at__gt=now
        ).exclude(pk__in=replaced.values("pk"))
        if connector_id != 0:
            held = held.filter(connector_id__in=[0, connector_id])
        if held.exists():
            return None, "Occupied"
        fields = {
            "connector_id": connector_id,
            "id_tag": id_tag,
            "parent_id_tag": parent_id_tag,
            "expires_at": expires_at,
            "status": ReservationStatus.REQUESTED,
            "charger_answer": "",
            "reason": "",
        }
        reservation = replaced.first()
        if reservation is None:
            reservation = Reservation.objects.create(
                charger=charger,
                user=None,
                upstream_host=upstream_host[:255],
                upstream_reservation_id=upstream_id,
                created_at=now,
                **fields,
            )
        else:
            for name, value in fields.items():
                setattr(reservation, name, value)
            reservation.save(update_fields=list(fields))
        payload = reserve_now_payload(reservation)
        if parent_id_tag:
            payload["parentIdTag"] = parent_id_tag
        reservation.reserve_command = Command.objects.create(
            charger=charger,
            action=CommandAction.RESERVE_NOW,
            payload=payload,
            source=CommandSource.UPSTREAM,
            timeout_s=UPSTREAM_COMMAND_TIMEOUT_S,
        )
        reservation.save(update_fields=["reserve_command"])
    return reservation.reserve_command.pk, ""


def cancel_for_upstream(charger_id: int, upstream_id: int) -> int | None:
    """Upstream's CancelReservation: its open reservation ``upstream_id`` at this charger ends
    (cancelled, by no one) and the pending CancelReservation command to execute is returned;
    None when upstream holds no such reservation here (answered Rejected, the charger not
    asked)."""
    now = timezone.now()
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update()
            .filter(
                charger_id=charger_id,
                upstream_reservation_id=upstream_id,
                status__in=Reservation.OPEN_STATUSES,
            )
            .exclude(upstream_host="")
            .first()
        )
        if reservation is None:
            return None
        reservation.cancel_command = Command.objects.create(
            charger_id=charger_id,
            action=CommandAction.CANCEL_RESERVATION,
            payload={"reservationId": reservation.pk},
            source=CommandSource.UPSTREAM,
            timeout_s=UPSTREAM_COMMAND_TIMEOUT_S,
        )
        reservation.status, reservation.ended_at = ReservationStatus.CANCELLED, now
        reservation.save(update_fields=["cancel_command", "status", "ended_at"])
    return reservation.cancel_command.pk


def upstream_ids(reservation_ids: list[int]) -> dict[int, int]:
    """Upstream's reservationId of each of these reservations it made (Fusebox id -> upstream's)."""
    return dict(
        Reservation.objects.filter(pk__in=reservation_ids, upstream_reservation_id__isnull=False)
        .exclude(upstream_host="")
        .values_list("pk", "upstream_reservation_id")
    )


def expire(now: datetime | None = None) -> dict[str, int]:
    """Beat: open reservations past their expiry become ``expired``; requested ones whose
    ReserveNow ended without the bridge recording it (timed out) are settled. Bounded, and
    safe to run twice (conditional UPDATEs)."""
    now = now or timezone.now()
    due = Reservation.objects.filter(
        status__in=Reservation.OPEN_STATUSES, expires_at__lte=now
    ).values_list("pk", flat=True)[:EXPIRIES_PER_SWEEP]
    expired = Reservation.objects.filter(
        pk__in=list(due), status__in=Reservation.OPEN_STATUSES
    ).update(status=ReservationStatus.EXPIRED, ended_at=now)
    settled = 0
    answered = Reservation.objects.filter(
        status=ReservationStatus.REQUESTED, reserve_command__status__in=FINAL_STATUSES
    ).select_related("reserve_command")[:EXPIRIES_PER_SWEEP]
    for reservation in answered:
        assert reservation.reserve_command is not None
        settled += _settle(reservation.pk, reservation.reserve_command, now)
    return {"expired": expired, "settled": settled}
