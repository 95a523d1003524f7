"""API tokens: who gets one at ``POST /api/v1/auth/token/``, and the per-account lockout.

A token is as strong as the web login, never a way around it: the password, then a verified
e-mail address when ``ACCOUNT_EMAIL_VERIFICATION`` is mandatory, then the authenticator code (or a
recovery code) when the account has two-factor authentication on. Each success makes a new named
token (``accounts.api_tokens``; ``name``, expiry, read-only and installations as asked). Failed
attempts are counted per
account (in the Redis cache, whatever address they come from): after
``API_TOKEN_LOCKOUT_ATTEMPTS`` failures within ``API_TOKEN_LOCKOUT_S`` the account gets no token
for ``API_TOKEN_LOCKOUT_S``, even with the right password. A password change (set, reset or
change, in any way) deletes the user's tokens (``User.save``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from datetime import datetime

from allauth.account.utils import has_verified_email
from allauth.mfa.base.forms import BaseAuthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from accounts import api_tokens
from accounts.models import ApiToken
from installations.models import Installation
from portal.tenancy import Action

WRONG_CREDENTIALS = "Unable to log in with these credentials."
UNVERIFIED = (
    "Verify your e-mail address first: follow the link in the e-mail we sent you (or ask for a"
    " new one on the web login page), then ask for a token again."
)
CODE_REQUIRED = (
    "This account uses two-factor authentication: send the code of your authenticator app"
    " (or a recovery code) in `code`."
)
WRONG_CODE = "Incorrect code."


class TokenRefused(Exception):
    """The credentials do not earn a token; ``field`` names the field at fault, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AccountLocked(Exception):
    """Too many failed attempts for this account; ``retry_after_s`` until the next may be made."""

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, math.ceil(retry_after_s / 60))
        super().__init__(
            "Too many failed attempts for this account: try again in"
            f" {minutes} minute{'s' if minutes != 1 else ''}."
        )
        self.retry_after_s = retry_after_s


def issue_token(
    request: HttpRequest,
    username: str,
    password: str,
    code: str = "",
    *,
    name: str = "",
    expires_at: datetime | None = None,
    read_only: bool = False,
    installation_ids: Sequence[int] = (),
) -> tuple[ApiToken, str]:
    """A new token and its key if the credentials are good."""
    email = username.strip().lower()
    _refuse_if_locked(email)
    user = authenticate(request=request, username=email, password=password)
    if user is None:
        _failed(email)
        raise TokenRefused(WRONG_CREDENTIALS)
    if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not has_verified_email(
        user, user.email
    ):
        raise TokenRefused(UNVERIFIED)
    if is_mfa_enabled(user):
        if not code.strip():
            raise TokenRefused(CODE_REQUIRED, field="code")
        form = BaseAuthenticateForm(user=user, data={"code": code.strip()})
        if not form.is_valid():
            _failed(email)
            raise TokenRefused(WRONG_CODE, field="code")
        form.authenticator.record_usage()
    cache.delete(_failures_key(email))
    installations = list(
        Installation.objects.restrict(user, Action.VIEW).filter(pk__in=installation_ids)
    )
    if len(installations) != len(set(installation_ids)):
        # Another tenant's installation is as unknown as one that does not exist.
        raise TokenRefused("No such installation.", field="installations")
    return api_tokens.create_token(
        user,
        name or f"API token of {timezone.now():%Y-%m-%d %H:%M} UTC",
        expires_at=expires_at,
        read_only=read_only,
        installations=installations,
    )


def _failures_key(email: str) -> str:
    # Hashed: an address may hold characters a cache key must not.
    return "api-token-failures:" + hashlib.sha256(email.encode()).hexdigest()


def _locked_key(email: str) -> str:
    return "api-token-locked:" + hashlib.sha256(email.encode()).hexdigest()


def _refuse_if_locked(email: str) -> None:
    until = cache.get(_locked_key(email))
    if until is not None and until > time.time():
        raise AccountLocked(math.ceil(until - time.time()))


def _failed(email: str) -> None:
    """Count a failed attempt; the one that reaches the limit locks the account."""
    window_s = settings.API_TOKEN_LOCKOUT_S
    key = _failures_key(email)
    cache.add(key, 0, window_s)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, failures := 1, window_s)
    if failures >= settings.API_TOKEN_LOCKOUT_ATTEMPTS:
        cache.set(_locked_key(email), time.time() + window_s, window_s)
        cache.delete(key)
