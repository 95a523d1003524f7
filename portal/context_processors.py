"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

# URL namespace -> the top-bar entry it belongs under (chargers and their commands live in
# installations).
NAV_SECTIONS = {
    "installations": "installations",
    "chargers": "installations",
    "ocpp": "installations",
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``nav_section``: which top-bar entry to highlight."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else ""
    return {"nav_section": NAV_SECTIONS.get(namespace, namespace)}
