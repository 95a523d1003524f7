"""Open invitations to a user's verified address become memberships when they log in or verify it."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import email_confirmed, user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in)
def accept_invitations_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from installations.services import accept_pending_invitations

    accept_pending_invitations(user)


@receiver(email_confirmed)
def accept_invitations_on_verification(
    sender: Any, request: Any, email_address: Any, **kwargs: Any
) -> None:
    from installations.services import accept_pending_invitations

    accept_pending_invitations(email_address.user)
