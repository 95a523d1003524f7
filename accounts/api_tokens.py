"""Named API tokens: made, found by their key, scoped, used, revoked.

A key is ``fbx_`` and 40 random URL-safe characters (240 bits); only its SHA-256 is stored, which
is enough for a key nobody can guess (nothing to brute-force) and keeps every API request one
indexed lookup. A token's scope (read-only, some installations) travels on the user object of
the request as ``token_scope``, which the tenancy gate honours (``portal.tenancy``), so every
query that serves the request is limited by it through the one mechanism.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User

KEY_PREFIX = "fbx_"
# ``last_used_at`` is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenScope:
    """What a request authenticated by a token may reach beyond what its user may."""

    read_only: bool
    installation_ids: frozenset[int] | None  # None: every installation the user may reach


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(
    user: User,
    name: str,
    *,
    expires_at: datetime | None = None,
    read_only: bool = False,
    installations: Iterable[object] = (),
) -> tuple[ApiToken, str]:
    """A new token of ``user`` and its key (shown once). ``installations`` must be ones the user
    may view (the caller checks it through the tenancy gate)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token (what will use it)."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if ApiToken.objects.filter(user=user).count() >= settings.API_TOKENS_PER_USER:
        raise ValidationError(
            {
                "name": f"At most {settings.API_TOKENS_PER_USER} tokens: revoke one you no longer use."
            }
        )
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=key[:12],
            key_hash=hash_key(key),
            read_only=read_only,
            expires_at=expires_at,
        )
        token.installations.set(list(installations))
    return token, key


def find(key: str) -> ApiToken | None:
    """The live token of ``key`` (with its user and installations), or None."""
    token = (
        ApiToken.objects.select_related("user")
        .prefetch_related("installations")
        .filter(key_hash=hash_key(key))
        .first()
    )
    if token is None or (token.expires_at is not None and token.expires_at <= timezone.now()):
        return None
    return token


def scope_of(token: ApiToken) -> TokenScope:
    ids = frozenset(installation.pk for installation in token.installations.all())
    return TokenScope(read_only=token.read_only, installation_ids=ids or None)


def mark_used(token: ApiToken, now: datetime | None = None) -> None:
    """Record the use, at most once per ``LAST_USED_RESOLUTION``."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
