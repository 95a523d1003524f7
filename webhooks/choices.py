"""Choices of the webhooks app."""

from django.db import models


class DeliveryStatus(models.TextChoices):
    """Where one delivery stands.

    ``pending``: not tried yet (or a redelivery was asked for); ``failed``: the last attempt
    failed and another is scheduled (``next_attempt_at``); ``succeeded``: a 2xx answer;
    ``gave_up``: every retry was spent (or the endpoint was disabled meanwhile), no more tries.
    """

    PENDING = "pending", "Pending"
    FAILED = "failed", "Failed, will retry"
    SUCCEEDED = "succeeded", "Succeeded"
    GAVE_UP = "gave_up", "Gave up"


# The statuses a sender still works on.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
