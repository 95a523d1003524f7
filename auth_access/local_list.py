"""Each charger's Local Authorization List, kept in sync so permitted cards work offline.

- ``desired_list(charger)``: the cards that ``decide()`` accepts on this charger (of active
  members who may charge here, neither blocked nor expired) with their expiry. Virtual idTags are
  never listed: a start from the portal needs the central system anyway.
- ``sync_charger(charger_id)`` (a worker, ``tasks.sync_local_list``): compares with what the
  charger confirmed last (``LocalListState``) and sends SendLocalList: Differential with the next
  version when the charger's list is known, Full when it is not (never sent, a failure or
  timeout, a VersionMismatch, or GetLocalListVersion reporting another version at boot). Long
  lists go out in chunks of ``MAX_ENTRIES_PER_MESSAGE`` (a Full, then Differentials), each with
  the next version.
- At boot (``configure=True``) the authorization settings come first (``configure()``): the
  charger's configuration is read once (GetConfiguration, all keys, stored on the Charger) and
  ChangeConfiguration goes out only for the settings it lists whose value differs (one it does
  not list is recorded as not supported, a read-only one as such). If GetConfiguration fails or
  gets no answer, every setting is sent, as before this was read, and that is logged. Then the
  charger's list version is asked, then the list goes out.

The authorization cache is switched off and LocalPreAuthorize too: online, every idTag is
decided by Fusebox (so a revocation applies at the next authorization, and the external
authorizer is asked); offline, the local list decides (LocalAuthorizeOffline), and unknown
idTags are refused unless the charger is open (AllowOfflineTxForUnknownId).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone

from auth_access.choices import LocalListStatus
from auth_access.decisions import effective_mode
from auth_access.models import ChargeCard, LocalListState
from chargers.models import Charger
from commands import routing
from commands.choices import CommandAction, CommandSource, CommandStatus
from installations.choices import AuthorizationMode, Role
from installations.models import Membership

if TYPE_CHECKING:
    from commands.models import Command

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_MESSAGE = 200  # below the SendLocalListMaxLength most chargers advertise
COMMAND_TIMEOUT_S = 30.0
Entries = dict[str, str | None]  # idTag -> expiry (ISO-8601 UTC) or None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def configuration(charger: Charger) -> list[tuple[str, str]]:
    """The ChangeConfiguration keys sent at boot (and when the charger's mode changes)."""
    is_open = effective_mode(charger) == AuthorizationMode.OPEN
    return [
        ("LocalAuthListEnabled", "true"),
        ("LocalAuthorizeOffline", "true"),
        ("AuthorizationCacheEnabled", "false"),
        ("LocalPreAuthorize", "false"),
        ("AllowOfflineTxForUnknownId", "true" if is_open else "false"),
    ]


class SettingOutcome(StrEnum):
    """What became of an authorization setting at boot when nothing was sent for it (for one
    sent, ``LocalListState.configuration`` keeps the charger's answer: Accepted, Rejected,
    RebootRequired, NotSupported, or why there is none)."""

    UNCHANGED = "Unchanged"  # the charger has the value already
    NOT_REPORTED = "NotReported"  # GetConfiguration does not list the key: not supported
    READ_ONLY = "ReadOnly"  # listed read-only, with another value


def settings_to_change(
    wanted: list[tuple[str, str]], reported: dict[str, tuple[str | None, bool]]
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Of the ``wanted`` settings, those to send (with the key as the charger spells it) and the
    outcome of each of the others, given what the charger ``reported`` (key -> (value,
    read-only)). Keys and values are compared case-insensitively ("True" is "true")."""
    spelled = {key.casefold(): key for key in reported}
    to_send: list[tuple[str, str]] = []
    outcomes: dict[str, str] = {}
    for key, value in wanted:
        charger_key = spelled.get(key.casefold())
        if charger_key is None:
            outcomes[key] = SettingOutcome.NOT_REPORTED
            continue
        current, readonly = reported[charger_key]
        if current is not None and current.strip().casefold() == value.casefold():
            outcomes[key] = SettingOutcome.UNCHANGED
        elif readonly:
            outcomes[key] = SettingOutcome.READ_ONLY
        else:
            to_send.append((charger_key, value))
    return to_send, outcomes


def desired_list(charger: Charger, now: datetime | None = None) -> Entries:
    """idTag -> expiry of every card accepted on ``charger`` (the rules of ``decide()``)."""
    now = now or timezone.now()
    members = Membership.objects.filter(installation_id=charger.installation_id)
    allowed = members.filter(
        Q(role__in=[Role.OWNER, Role.INSTALLER])
        | Q(may_charge_everywhere=True)
        | Q(charger_permissions__charger_id=charger.pk),
        user__is_active=True,
    ).values("user_id")
    cards = (
        ChargeCard.objects.filter(user_id__in=allowed, is_blocked=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(installation__isnull=True) | Q(installation_id=charger.installation_id))
        .values_list("id_tag", "expires_at")
    )
    return {id_tag: _iso(expires_at) for id_tag, expires_at in cards}


def list_entry(id_tag: str, expiry: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"status": "Accepted"}
    if expiry:
        info["expiryDate"] = expiry
    return {"idTag": id_tag, "idTagInfo": info}


def difference(old: Entries, new: Entries) -> list[dict[str, Any]]:
    """Differential entries: added or changed cards with their info, removed ones without."""
    changed = [
        list_entry(tag, expiry)
        for tag, expiry in sorted(new.items())
        if old.get(tag, "-") != expiry
    ]
    removed = [{"idTag": tag} for tag in sorted(old) if tag not in new]
    return changed + removed


def _apply(entries: Entries, update: list[dict[str, Any]]) -> Entries:
    result = dict(entries)
    for entry in update:
        if "idTagInfo" in entry:
            result[entry["idTag"]] = entry["idTagInfo"].get("expiryDate")
        else:
            result.pop(entry["idTag"], None)
    return result


def _chunks(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    size = MAX_ENTRIES_PER_MESSAGE
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


@dataclass
class SyncResult:
    """What one sync did, for logs and tests."""

    status: str
    version: int
    sent: list[str] = field(default_factory=list)  # update types sent, in order
    error: str = ""


def _command(charger: Charger, action: str, payload: dict[str, Any]) -> Command:
    command = routing.issue_command(
        charger, action, payload, source=CommandSource.SYSTEM, timeout_s=COMMAND_TIMEOUT_S
    )
    return routing.wait_for_command(command, COMMAND_TIMEOUT_S + 5)


def _answer(command: Command) -> str:
    """The charger's status answer, or why there is none."""
    if command.status in (CommandStatus.ACCEPTED, CommandStatus.REJECTED) and command.response:
        return str(command.response.get("status", command.status))
    return command.error or str(command.status)


def read_configuration(charger: Charger) -> dict[str, Any] | None:
    """GetConfiguration (no keys: all of them), stored on the charger with the time; None when
    the charger gave no usable answer (an error, no answer in time, a broken one)."""
    command = _command(charger, CommandAction.GET_CONFIGURATION, {})
    answer = command.response
    if command.status != CommandStatus.ACCEPTED or not isinstance(answer, dict):
        logger.warning(
            "%s: GetConfiguration at boot got no usable answer (%s): every authorization"
            " setting is sent this once",
            charger.ocpp_identity,
            _answer(command),
        )
        return None
    charger.configuration, charger.configuration_read_at = answer, timezone.now()
    Charger.objects.filter(pk=charger.pk).update(
        configuration=answer, configuration_read_at=charger.configuration_read_at
    )
    return answer


def read_missing_keys(charger: Charger, keys: list[str]) -> None:
    """Ask by name for the ``keys`` the full GetConfiguration did not list: chargers cut a full
    dump short (at GetConfigurationMaxKeys, or a frame size), so a key left out may still exist.
    What the charger lists then joins the stored configuration; a key it names unknown (or no
    usable answer) stays not reported."""
    listed = {key.casefold() for key in charger.reported_configuration()}
    missing = [key for key in keys if key.casefold() not in listed]
    if not missing:
        return
    command = _command(charger, CommandAction.GET_CONFIGURATION, {"key": missing})
    answer = command.response
    if command.status != CommandStatus.ACCEPTED or not isinstance(answer, dict):
        return
    found = [
        entry
        for entry in answer.get("configurationKey") or []
        if isinstance(entry, dict)
        and isinstance(entry.get("key"), str)
        and entry["key"].casefold() not in listed
    ]
    if found:
        entries = charger.configuration.get("configurationKey") or []
        charger.configuration = {**charger.configuration, "configurationKey": [*entries, *found]}
        Charger.objects.filter(pk=charger.pk).update(configuration=charger.configuration)


def configure(charger: Charger) -> dict[str, str]:
    """Read the charger's configuration, then send the authorization settings it supports and
    does not have yet; the outcome per setting (the charger's answer to those sent)."""
    wanted = configuration(charger)
    if read_configuration(charger) is None:  # fall back: send them all
        to_send, outcomes = wanted, {}
    else:
        read_missing_keys(charger, [key for key, _ in wanted])
        to_send, outcomes = settings_to_change(wanted, charger.reported_configuration())
    issued = [
        (key, value, routing.issue_command(
            charger, CommandAction.CHANGE_CONFIGURATION, {"key": key, "value": value},
            source=CommandSource.SYSTEM, timeout_s=COMMAND_TIMEOUT_S,
        ))
        for key, value in to_send
    ]  # fmt: skip
    taken: dict[str, str] = {}
    for key, value, command in issued:
        outcomes[key] = _answer(routing.wait_for_command(command, COMMAND_TIMEOUT_S + 5))
        if outcomes[key] == "Accepted":
            taken[key] = value
    if taken and charger.configuration_read_at is not None:
        _remember_values(charger, taken)
    return outcomes


def _remember_values(charger: Charger, taken: dict[str, str]) -> None:
    """Settings the charger accepted are its values now: the stored configuration says so."""
    for entry in charger.configuration.get("configurationKey") or []:
        if isinstance(entry, dict) and entry.get("key") in taken:
            entry["value"] = taken[entry["key"]]
    Charger.objects.filter(pk=charger.pk).update(configuration=charger.configuration)


def sync_charger(charger_id: int, *, configure_first: bool = False) -> SyncResult:
    """Bring the charger's list up to date (a worker; waits for the charger's answers)."""
    charger = Charger.objects.select_related("installation").filter(pk=charger_id).first()
    if charger is None:  # deleted meanwhile
        return SyncResult(LocalListStatus.UNKNOWN, 0, error="charger deleted")
    state, _ = LocalListState.objects.get_or_create(charger=charger)
    if routing.node_of(charger.ocpp_identity) is None:
        return SyncResult(state.status, state.version, error="charger is offline")
    if configure_first:
        state.configuration = configure(charger)
        state.configured_at = timezone.now()
        version_command = _command(charger, CommandAction.GET_LOCAL_LIST_VERSION, {})
        reported = (version_command.response or {}).get("listVersion")
        if isinstance(reported, int):
            state.charger_version = reported
            if reported == -1:
                state.status = LocalListStatus.NOT_SUPPORTED
            elif reported != state.version or state.status == LocalListStatus.NOT_SUPPORTED:
                state.status = LocalListStatus.UNKNOWN
        state.save()
    if state.status == LocalListStatus.NOT_SUPPORTED:
        return SyncResult(state.status, state.version)
    result = SyncResult(state.status, state.version)
    for _attempt in range(2):  # a VersionMismatch is answered with one Full update
        if not _send_updates(charger, state, desired_list(charger), result):
            break
    state.save()
    result.status, result.version = state.status, state.version
    return result


def _send_updates(
    charger: Charger, state: LocalListState, desired: Entries, result: SyncResult
) -> bool:
    """Send what differs; True when the charger asked for a Full list instead."""
    if state.status == LocalListStatus.IN_SYNC:
        if desired == state.entries:
            return False
        messages = [
            ("Differential", chunk) for chunk in _chunks(difference(state.entries, desired))
        ]
        base: Entries = state.entries
    else:
        entries = [list_entry(tag, expiry) for tag, expiry in sorted(desired.items())]
        chunks = _chunks(entries)
        messages = [("Full", chunks[0])] + [("Differential", chunk) for chunk in chunks[1:]]
        base = {}
    version = max(state.version, state.sent_version, state.charger_version or 0)
    for update_type, chunk in messages:
        version += 1
        state.sent_version = version
        payload = {"listVersion": version, "updateType": update_type}
        if chunk:
            payload["localAuthorizationList"] = chunk
        answer = _answer(_command(charger, CommandAction.SEND_LOCAL_LIST, payload))
        result.sent.append(update_type)
        if answer == "Accepted":
            base = _apply(base, chunk)
            state.version, state.entries, state.status = version, base, LocalListStatus.IN_SYNC
            state.charger_version, state.last_error = version, ""
            state.synced_at = timezone.now()
            continue
        state.last_error = f"SendLocalList {update_type} v{version}: {answer}"[:300]
        result.error = state.last_error
        if answer == "NotSupported":
            state.status = LocalListStatus.NOT_SUPPORTED
            return False
        mismatch = answer == "VersionMismatch" and update_type == "Differential"
        # Failed, no answer, offline: the charger's list is unknown now; the next one is Full.
        state.status = LocalListStatus.UNKNOWN if mismatch else LocalListStatus.FAILED
        return mismatch
    return False
