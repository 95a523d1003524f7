"""The request being served, for the audit recorder (a context variable set by middleware)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
# Installations this request is deleting (``recorder``: their children's deletions emit no event).
installations_going: ContextVar[frozenset[int]] = ContextVar(
    "audit_installations_going", default=frozenset()
)


class AuditContextMiddleware:
    """Makes the request known to ``audit.recorder`` while it is served (sync and async)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(request)
        going = installations_going.set(frozenset())
        try:
            return self.get_response(request)
        finally:
            installations_going.reset(going)
            current_request.reset(token)


def client_address(request: HttpRequest) -> str | None:
    """The client's address through ``TRUSTED_PROXIES`` proxies (as the rate limits take it)."""
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies] or None
    return request.META.get("REMOTE_ADDR") or None


def actor_of(request: HttpRequest) -> tuple[Any, str]:
    """(user or None, how: web, admin, or api with the token's name)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None, "web"
    auth = getattr(request, "auth", None) or getattr(request, "_audit_token", None)
    if auth is not None and hasattr(auth, "name"):
        return user, f"api ({auth.name})"[:40]
    if request.path.startswith("/api/"):
        return user, "api"
    if request.path.startswith("/admin/"):
        return user, "admin"
    return user, "web"
