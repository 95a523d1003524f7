"""Choices of the alerts app: what a subscription may ask for, how it is delivered, the state
of an e-mail in the outbox."""

from django.db import models


class AlertKind(models.TextChoices):
    """What a subscriber may be told of. Incident kinds cover the opening (after the offline
    threshold) and the recovery; session kinds only ever concern the subscriber's own sessions."""

    FAULT = "fault", "Faults (opened and recovered)"
    OFFLINE = "offline", "Chargers offline (opened and recovered)"
    OVERLOAD = "overload", "Fuse overloads (opened and recovered)"
    SESSION_FINISHED = "session_finished", "My charging session finished"
    SESSION_STOPPED_UNEXPECTEDLY = "session_interrupted", "My charging session stopped unexpectedly"


INCIDENT_KINDS = (AlertKind.FAULT, AlertKind.OFFLINE, AlertKind.OVERLOAD)
SESSION_KINDS = (AlertKind.SESSION_FINISHED, AlertKind.SESSION_STOPPED_UNEXPECTEDLY)


class DeliveryMode(models.TextChoices):
    IMMEDIATE = "immediate", "At once"
    DIGEST = "digest", "In a daily digest"


class MailStatus(models.TextChoices):
    """``pending``: to send when ``next_attempt_at`` is due; ``sending``: claimed by a sender
    until ``lease_until``; ``held``: waits for the recipient's daily digest; ``digested``:
    went out inside a digest (``digest``); ``sent``; ``failed``: every retry spent."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    HELD = "held", "Held for the digest"
    DIGESTED = "digested", "Sent in a digest"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
