"""Choices of access control: decision sources and triggers, installation policies, list states."""

from django.db import models


class AuthorizationStatus(models.TextChoices):
    """OCPP 1.6 IdTagInfo.status values."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class DecisionSource(models.TextChoices):
    """Who took an authorization decision."""

    LOCAL = "local", "Fusebox (cards and permissions)"
    EXTERNAL = "external", "External authorizer"
    FALLBACK = "fallback", "Fallback policy (external authorizer failed)"
    REMOTE_START = "remote_start", "Remote start from the portal"


class AuthorizationTrigger(models.TextChoices):
    """What asked for a decision."""

    AUTHORIZE = "authorize", "Authorize"
    START = "start", "StartTransaction"
    STOP = "stop", "StopTransaction"
    REMOTE_START = "remote_start", "Remote start request"
    REVOCATION = "revocation", "Revocation check of a running session"


class RunningSessionPolicy(models.TextChoices):
    """What happens to a session in progress when its holder loses the right to charge."""

    LET_RUN = "let_run", "Let it run to its end (the revocation applies at the next authorization)"
    STOP = "stop", "Stop it now (RemoteStopTransaction)"


class FallbackPolicy(models.TextChoices):
    """The decision when the external authorizer does not answer properly within its deadline."""

    ACCEPT_KNOWN = "accept_known", "Decide locally: accept known cards permitted here"
    REFUSE = "refuse", "Refuse everyone"


class LocalListStatus(models.TextChoices):
    """Where a charger's Local Authorization List stands."""

    UNKNOWN = "unknown", "Unknown (a full list goes out next)"
    IN_SYNC = "in_sync", "In sync"
    FAILED = "failed", "Last update failed"
    NOT_SUPPORTED = "not_supported", "Not supported by the charger"


class RemoteStartStatus(models.TextChoices):
    """A start from the portal: requested -> accepted -> started, or refused (by Fusebox),
    failed (the charger rejected it, failed or did not answer) or expired (no session in time)."""

    REQUESTED = "requested", "Sent to the charger"
    ACCEPTED = "accepted", "Accepted by the charger, waiting for the car"
    REFUSED = "refused", "Refused (no right to charge here)"
    FAILED = "failed", "The charger did not accept it"
    STARTED = "started", "Session started"
    EXPIRED = "expired", "No session started in time"


class ReservationStatus(models.TextChoices):
    """A connector reserved for a driver: requested -> active (the charger took it) -> used (the
    driver's StartTransaction carried it); or rejected (the charger answered Faulted, Occupied,
    Rejected or Unavailable, or the command failed), cancelled, expired."""

    REQUESTED = "requested", "Sent to the charger"
    ACTIVE = "active", "Reserved"
    REJECTED = "rejected", "Not taken by the charger"
    CANCELLED = "cancelled", "Cancelled"
    USED = "used", "Used: charging started"
    EXPIRED = "expired", "Expired"
