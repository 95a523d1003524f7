"""``Authorization: Token <key>`` for the API, by the named tokens of ``accounts.api_tokens``,
and the permission that keeps a read-only token reading."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

from accounts import api_tokens
from accounts.models import ApiToken

READ_ONLY_MESSAGE = "This API token is read-only."


class ApiTokenAuthentication(TokenAuthentication):
    """The header DRF's token authentication reads, checked against ``ApiToken``: an unknown,
    revoked or expired key is a 401. The request's user carries the token's ``token_scope``."""

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = api_tokens.find(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        user.token_scope = api_tokens.scope_of(token)
        api_tokens.mark_used(token)
        return user, token


class TokenMayWrite(permissions.BasePermission):
    """A read-only token may only read (GET, HEAD, OPTIONS)."""

    message = READ_ONLY_MESSAGE

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in permissions.SAFE_METHODS
        return True
