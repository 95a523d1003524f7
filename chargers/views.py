"""Web pages of chargers (placeholder: the full UI follows)."""

from django.views.generic import DetailView

from chargers.models import Charger
from portal.views import TenantMixin


class ChargerDetailView(TenantMixin, DetailView):
    model = Charger
    template_name = "chargers/detail.html"
