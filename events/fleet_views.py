"""The fleet page (``/fleet/``): every installation the user serves, worst first.

Owners and installers only (``events.fleet.served_by``); a driver sees an empty page, as on every
list of things they do not administer. The rows come from ``events.fleet`` in one query per
page (plus the count for paging), whatever the number of installations.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.views.generic import ListView

from events import fleet
from installations.models import Installation
from portal.views import TenantMixin


class FleetView(TenantMixin, ListView):
    """Installations with chargers online / offline / faulted / charging, open incidents and
    the last contact; filter (``problems=1``, ``q``), sort (``sort``), 50 a page."""

    model = Installation
    template_name = "events/fleet.html"
    context_object_name = "rows"
    paginate_by = 50

    @property
    def sort(self) -> str:
        sort = self.request.GET.get("sort", "")
        return sort if sort in fleet.FleetSort.values else fleet.FleetSort.WORST

    @property
    def problems_only(self) -> bool:
        return self.request.GET.get("problems") == "1"

    def get_queryset(self) -> QuerySet[Any]:
        return fleet.fleet(
            self.request.user,
            query=self.search_query,
            problems_only=self.problems_only,
            sort=self.sort,
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        keep = QueryDict(mutable=True)  # the filters, kept across pages
        if self.search_query:
            keep["q"] = self.search_query
        if self.problems_only:
            keep["problems"] = "1"
        keep["sort"] = self.sort
        context.update(
            query=self.search_query,
            problems_only=self.problems_only,
            sort=self.sort,
            sorts=fleet.FleetSort.choices,
            keep=keep.urlencode(),
            nav_section="fleet",
        )
        return context
