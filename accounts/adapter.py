"""allauth adapter: after sign-up or log-in, pending invitations for the address become memberships."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request: HttpRequest) -> str:
        from installations.services import accept_pending_invitations

        accept_pending_invitations(request.user)  # type: ignore[arg-type]
        return super().get_login_redirect_url(request)
