"""What an upstream central system asks of a bridged charger.

``InboundHandlers`` is a mixin of the upstream charge point (``link.UpstreamChargePoint``): its
``@on`` handlers answer upstream's calls. ``self.link`` is the charger's ``link.Link``.
"""

from __future__ import annotations


class InboundHandlers:
    """Upstream's calls to the charge point Fusebox presents."""
