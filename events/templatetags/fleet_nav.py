"""``{% serves_any_installation as flag %}``: whether the top bar shows the fleet link."""

from __future__ import annotations

from django import template

from events.fleet import serves_any

register = template.Library()


@register.simple_tag(takes_context=True)
def serves_any_installation(context: template.Context) -> bool:
    """True for a user who administers at least one installation (owners, installers)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and serves_any(user))
