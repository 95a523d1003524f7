"""What Fusebox keeps on every charger, and the rule that a command a person sends never undoes it.

Fusebox owns three charging profiles on each charger (connector 0): the failsafe profile (id
1000, TxDefaultProfile, stack level 0), the balancing limit (id 1001, TxDefaultProfile, stack
level 1) and, on chargers with several connectors, the cap on their sum (id 1002,
ChargePointMaxProfile, stack level 1); during a session with a departure plan, also the plan's
TxProfile (id 1003, on the transaction's connector: ``modes.offline``). It also owns the
authorization settings (``MANAGED_CONFIGURATION_KEYS``, set from the installation's
authorization mode) and the Local Authorization List (synced from who may charge), and the
reservations it records (``auth_access.reservations``). ``refusal(action, payload)`` says why a manual
command would undo one of these, and what to use instead; ``send_manual`` records every command a
person sends, refused ones included (status ``refused``, with the reason), with who sent it.

Every SetChargingProfile is refused, and a RemoteStartTransaction that carries a charging profile:
whatever its stack level and purpose, a manual profile either replaces one of Fusebox's or takes
precedence over the balancing limit (a TxProfile overrides the TxDefaultProfile for its
transaction), so it could raise the current above what the fuses allow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from commands import routing
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command

if TYPE_CHECKING:
    from accounts.models import User
    from chargers.models import Charger

FAILSAFE_PROFILE_ID = 1000
BALANCING_PROFILE_ID = 1001
CHARGER_MAX_PROFILE_ID = 1002
# A departure plan's TxProfile on its transaction's connector (modes.offline), stack level 1.
# Not kept from being cleared: without it the balancing limit and failsafe apply again (only
# the plan's schedule offline is lost until its next limit), so nothing can overload.
PLAN_PROFILE_ID = 1003
FUSEBOX_PROFILE_IDS = frozenset({FAILSAFE_PROFILE_ID, BALANCING_PROFILE_ID, CHARGER_MAX_PROFILE_ID})
FUSEBOX_STACK_LEVELS = frozenset({0, 1})
FUSEBOX_PROFILE_PURPOSES = frozenset({"TxDefaultProfile", "ChargePointMaxProfile"})
# Keys set by auth_access.local_list.configuration() (compared case-insensitively: some chargers
# do). tests/ocpp_ui/test_manual_commands.py checks that every key set there is listed here.
MANAGED_CONFIGURATION_KEYS = frozenset(
    {
        "LocalAuthListEnabled",
        "LocalAuthorizeOffline",
        "AuthorizationCacheEnabled",
        "LocalPreAuthorize",
        "AllowOfflineTxForUnknownId",
    }
)

CURRENT_IS_BALANCED = (
    "The charger's current is set by balancing (and its failsafe profile); a charging profile "
    "sent by hand would override it. Set a max current on the charger or its circuit instead."
)
FUSEBOX_PROFILES_KEPT = (
    "This would clear Fusebox's own charging profiles (failsafe id 1000, balancing 1001-1002), "
    "so the charger could draw more than its fuses allow. Clear other profiles by id, or by a "
    "purpose or stack level not Fusebox's (it uses TxDefaultProfile and ChargePointMaxProfile "
    "at levels 0-1)."
)
LIST_IS_SYNCED = (
    "The charger's local authorization list is kept in sync with who may charge here; a list "
    "sent by hand would be replaced at the next sync. Change cards and permissions on the "
    "installation's Access tab instead."
)

RESERVATIONS_ARE_RECORDED = (
    "Reservations are made in the charger's Reservations section or at /api/v1/reservations/, "
    "so that Fusebox knows whom the connector is held for, gives the reservation its id and "
    "ends it when the driver starts; one sent by hand would be unknown to it. Reserve or "
    "cancel there instead."
)


class CommandRefused(Exception):
    """A person's command that would undo what Fusebox keeps on the charger; recorded as refused."""

    def __init__(self, reason: str, command: Command) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command = command


def _clears_fusebox_profiles(payload: dict[str, Any]) -> bool:
    """ClearChargingProfile: an id clears that profile only; without one, every profile that
    matches all the criteria given (connectorId, purpose, stackLevel; none given: all). The
    connector is not trusted to narrow it down: some chargers keep a connector-0 default per
    connector."""
    if "id" in payload:
        return payload["id"] in FUSEBOX_PROFILE_IDS
    purpose = payload.get("chargingProfilePurpose")
    stack_level = payload.get("stackLevel")
    return (purpose is None or purpose in FUSEBOX_PROFILE_PURPOSES) and (
        stack_level is None or stack_level in FUSEBOX_STACK_LEVELS
    )


def refusal(action: str, payload: dict[str, Any]) -> str | None:
    """Why a person may not send this (schema-valid) command, and what to use instead; None: allowed."""
    if action == CommandAction.SET_CHARGING_PROFILE:
        return CURRENT_IS_BALANCED
    if action == CommandAction.REMOTE_START_TRANSACTION and "chargingProfile" in payload:
        return (
            f"{CURRENT_IS_BALANCED} Start the transaction without a chargingProfile; balancing "
            "gives the car its current."
        )
    if action == CommandAction.CLEAR_CHARGING_PROFILE and _clears_fusebox_profiles(payload):
        return FUSEBOX_PROFILES_KEPT
    if action == CommandAction.CHANGE_CONFIGURATION:
        key = str(payload.get("key", "")).strip()
        managed = {name.casefold(): name for name in MANAGED_CONFIGURATION_KEYS}
        if key.casefold() in managed:
            return (
                f"{managed[key.casefold()]} is set by Fusebox from the installation's "
                "authorization mode (and set again at every boot). Change the authorization "
                "mode in the installation's settings instead."
            )
    if action == CommandAction.SEND_LOCAL_LIST:
        return LIST_IS_SYNCED
    if action in (CommandAction.RESERVE_NOW, CommandAction.CANCEL_RESERVATION):
        return RESERVATIONS_ARE_RECORDED
    return None


def send_manual(
    charger: Charger,
    action: str,
    payload: dict[str, Any],
    *,
    user: User,
    source: CommandSource,
    timeout_s: float = 30.0,
) -> Command:
    """Issue a command a person sent (payload already schema-checked), or record it as refused
    and raise ``CommandRefused``. Either way the command is recorded with who sent it."""
    reason = refusal(action, payload)
    if reason is None:
        with transaction.atomic():
            return routing.issue_command(
                charger, action, payload, user=user, source=source, timeout_s=timeout_s
            )
    command = Command.objects.create(
        charger=charger,
        action=action,
        payload=payload,
        source=source,
        requested_by=user,
        timeout_s=timeout_s,
        status=CommandStatus.REFUSED,
        completed_at=timezone.now(),
        error=reason,
    )
    raise CommandRefused(reason, command)
