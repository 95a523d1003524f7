"""Choices of the OCPP bridge: refused connection attempts. (Commands: `commands.choices`.)"""

from django.db import models


class AttemptReason(models.TextChoices):
    UNKNOWN_IDENTITY = "unknown_identity", "Unknown identity"
    BAD_PASSWORD = "bad_password", "Wrong or missing password"
    BAD_SUBPROTOCOL = "bad_subprotocol", "No ocpp1.6 subprotocol"
