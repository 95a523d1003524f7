"""The Access tab of an installation: seen cards, the rules, the external authorizer and the
authorization log ("Who may charge" and members' cards: ``auth_access.people_views``), and what
every page of the tab shares (``AccessPageMixin``, ``ListFormMixin``, ``page_params``).

Owners and installers only: every page needs ``Action.ADMINISTER`` on the installation
(``AccessPageMixin``), so a driver or an outsider gets a 404, and every object comes through
``restrict``. The rules are ``auth_access.services``' (granting, adding cards, assigning seen
cards); their ``AccessError`` is shown as a message or on the form, their ``ValidationError`` on
the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.generic import FormView, TemplateView

from accounts.models import User
from auth_access import external, services
from auth_access.forms import (
    AccessRulesForm,
    AssignSeenCardForm,
    AuthorizationLogFilter,
    ExternalAuthorizerForm,
    add_model_errors,
)
from auth_access.models import AccessPolicy, AuthorizationRecord, SeenCard
from auth_access.views import person
from chargers.models import Charger
from installations.models import Membership
from installations.views import InstallationPageMixin
from portal.tenancy import Action

if TYPE_CHECKING:
    from datetime import datetime

LOG_PAGE_SIZE = 50
SEEN_CARDS_PER_PAGE = 50


class AccessPageMixin(InstallationPageMixin):
    """A page of an installation's Access tab (owners and installers; 404 for anyone else)."""

    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "access"
    section: ClassVar[str] = "people"

    def memberships(self) -> QuerySet[Membership]:
        return (
            self.restricted(Membership)
            .filter(installation=self.installation)
            .select_related("user")
            .prefetch_related("charger_permissions")
        )

    def member_users(self) -> QuerySet[User]:
        """Members the user may add cards for (the service's rule), for the forms' choices."""
        member_ids = self.memberships().values("user_id")
        manageable = services.users_manageable_by(self.request.user)  # type: ignore[arg-type]
        return manageable.filter(pk__in=member_ids).order_by("name", "email")

    def chargers(self) -> list[Charger]:
        return list(
            self.restricted(Charger).filter(installation=self.installation).order_by("name", "id")
        )

    def seen_cards(self) -> QuerySet[SeenCard]:
        return self.restricted(SeenCard).filter(charger__installation=self.installation)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(
            nav_section="installations",
            section=self.section,
            seen_count=self.seen_cards().values("id_tag").distinct().count(),
        )
        return context


def page_params(query: str, number: int) -> str:
    """The query string of a page of members (none for the first page of all of them): the
    forms on the page carry it, so that what they lead to shows the same page."""
    params: dict[str, str | int] = {}
    if number > 1:
        params["page"] = number
    if query:
        params["q"] = query
    return urlencode(params)


class ListFormMixin(AccessPageMixin):
    """A form of a paged list page (People, Seen cards). A form with errors re-renders the list
    at the form's own URL, so that page's links (other pages, a search) lead here with GET:
    back to the list, with their page and search."""

    list_url_name: ClassVar[str]
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        list_url = reverse(self.list_url_name, args=[self.installation.pk])
        params = request.GET.urlencode()
        return redirect(f"{list_url}?{params}" if params else list_url)


# ---------- Seen cards ----------


@dataclass
class SeenGroup:
    """One unknown idTag seen at this installation's chargers (a row per charger)."""

    sightings: list[SeenCard]
    form: AssignSeenCardForm | None = None

    @property
    def latest(self) -> SeenCard:
        return self.sightings[0]

    @property
    def id_tag(self) -> str:
        return self.latest.id_tag

    @property
    def times_seen(self) -> int:
        return sum(seen.times_seen for seen in self.sightings)

    @property
    def first_seen_at(self) -> datetime:
        return min(seen.first_seen_at for seen in self.sightings)


class SeenCardsView(AccessPageMixin, TemplateView):
    """Unknown cards shown at the chargers, newest first, each with a one-step "assign" form;
    50 cards a page, searchable by number."""

    template_name = "auth_access/seen_cards.html"
    section = "seen"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.search_query
        # A page of cards (an idTag shown at several chargers is one card), latest first.
        tags = self.seen_cards().values("id_tag").annotate(latest=Max("last_seen_at"))
        if query:
            tags = tags.filter(id_tag__icontains=query)
        page = Paginator(tags.order_by("-latest", "id_tag"), SEEN_CARDS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        groups = {row["id_tag"]: SeenGroup([]) for row in page}
        sightings = self.seen_cards().filter(id_tag__in=list(groups)).select_related("charger")
        for seen in sightings.order_by("-last_seen_at", "-id"):
            groups[seen.id_tag].sightings.append(seen)
        members = self.member_users()
        bound: tuple[str, AssignSeenCardForm] | None = kwargs.get("assign_form")
        for group in groups.values():
            if bound and bound[0] == group.id_tag:
                group.form = bound[1]
            else:
                group.form = AssignSeenCardForm(prefix=f"s{group.latest.pk}", members=members)
        context.update(
            groups=list(groups.values()),
            page_obj=page,
            query=query,
            page_params=page_params(query, page.number),
        )
        return context

    def list_url(self) -> str:
        """This page of the list again (its forms carry ``page`` and ``q`` in their action)."""
        url = reverse("access:seen_cards", args=[self.installation.pk])
        params = page_params(self.search_query, self.page_number())
        return f"{url}?{params}" if params else url

    def page_number(self) -> int:
        try:
            return max(1, int(self.request.GET.get("page", 1)))
        except ValueError:
            return 1

    def sighting(self, pk: int) -> SeenCard:
        return get_object_or_404(self.seen_cards().select_related("charger__installation"), pk=pk)


class AssignSeenCardView(ListFormMixin, SeenCardsView):
    """The seen card becomes a member's card, in one step (it leaves every seen list)."""

    list_url_name = "access:seen_cards"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seen = self.sighting(kwargs["seen_pk"])
        form = AssignSeenCardForm(request.POST, prefix=f"s{seen.pk}", members=self.member_users())
        if form.is_valid():
            user = form.cleaned_data["user"]
            try:
                card = services.assign_seen_card(
                    request.user,  # type: ignore[arg-type]
                    seen,
                    user,
                    form.cleaned_data["name"],
                )
            except ValidationError as error:
                add_model_errors(form, error)
            except services.AccessError as error:
                form.add_error("user", str(error))
            else:
                messages.success(
                    request,
                    f"Card {card.id_tag} now belongs to {person(user)}. "
                    "It is accepted from its next use where they may charge.",
                )
                return redirect(self.list_url())
        return self.render_to_response(self.get_context_data(assign_form=(seen.id_tag, form)))


class DismissSeenCardView(SeenCardsView):
    """Take an unknown card off this installation's list (it comes back if shown again)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seen = self.sighting(kwargs["seen_pk"])
        self.seen_cards().filter(id_tag=seen.id_tag).delete()
        messages.success(request, f"Card {seen.id_tag} was removed from the list.")
        return redirect(self.list_url())


# ---------- Rules and the external authorizer ----------


class AccessRulesView(AccessPageMixin, FormView):
    """Open or locked (installation, and per charger), and running sessions on revocation."""

    template_name = "auth_access/rules.html"
    form_class = AccessRulesForm
    section = "rules"

    def policy(self) -> AccessPolicy:
        policy = self.restricted(AccessPolicy).filter(installation=self.installation).first()
        return policy or AccessPolicy(installation=self.installation)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["chargers"] = self.chargers()
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        return {
            "authorization_mode": self.installation.authorization_mode,
            "running_session_policy": self.policy().running_session_policy,
        }

    def form_valid(self, form: AccessRulesForm) -> HttpResponse:
        installation = self.installation
        with transaction.atomic():
            if installation.authorization_mode != form.cleaned_data["authorization_mode"]:
                installation.authorization_mode = form.cleaned_data["authorization_mode"]
                installation.save(update_fields=["authorization_mode"])
            for charger, mode in form.charger_modes().items():
                if charger.authorization_mode != mode:
                    charger.authorization_mode = mode
                    charger.save(update_fields=["authorization_mode"])
            policy = self.policy()
            policy.running_session_policy = form.cleaned_data["running_session_policy"]
            policy.save()
        messages.success(self.request, "The access rules were saved. They apply from now on.")
        return redirect("access:rules", pk=installation.pk)


class ExternalAuthorizerView(AccessPageMixin, FormView):
    """The external authorizer: webhook URL, write-only secret, deadline, fallback, on/off."""

    template_name = "auth_access/external.html"
    form_class = ExternalAuthorizerForm
    section = "external"

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        policy = self.restricted(AccessPolicy).filter(installation=self.installation).first()
        kwargs["instance"] = policy or AccessPolicy(installation=self.installation)
        return kwargs

    def form_valid(self, form: ExternalAuthorizerForm) -> HttpResponse:
        policy = form.save()
        if policy.uses_external:
            text = "The external authorizer is on: locked chargers here ask it from now on."
        else:
            text = "The external authorizer settings were saved; it is off."
        messages.success(self.request, text)
        return redirect("access:external", pk=self.installation.pk)


class ExternalAuthorizerTestView(ExternalAuthorizerView):
    """The "Send a test request" button: a signed ``"type": "test"`` request to the saved URL,
    the way every real one goes (``external.send_test``); the page shows status, time, reason."""

    http_method_names = ["post"]

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs.pop("data", None)  # the page shows the saved settings, untouched
        kwargs.pop("files", None)
        return kwargs

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        policy = self.get_form_kwargs()["instance"]
        if not (policy.pk and policy.external_url and policy.external_secret):
            messages.error(request, "Save a webhook URL and a secret first.")
            return redirect("access:external", pk=self.installation.pk)
        result = external.send_test(policy)
        return self.render_to_response(self.get_context_data(probe=result))


# ---------- The authorization log ----------


class AuthorizationLogView(AccessPageMixin, TemplateView):
    """Every decision at this installation, newest first, filtered, in pages of 50 (a volume
    table: "older" pages continue after the last row shown, no counting)."""

    template_name = "auth_access/log.html"
    section = "log"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chargers = self.chargers()
        records = self.restricted(AuthorizationRecord).filter(installation=self.installation)
        params = self.request.GET
        has_filter = any(params.get(name) for name in ("charger", "result", "since", "until"))
        form = AuthorizationLogFilter(params if has_filter else None, chargers=chargers)
        if form.is_bound and form.is_valid():
            records = self.filtered(records, form)
        before = params.get("before", "")
        if before.isdigit():
            cursor = records.filter(pk=before).values_list("created_at", "pk").first()
            if cursor:
                records = records.filter(
                    Q(created_at__lt=cursor[0]) | Q(created_at=cursor[0], pk__lt=cursor[1])
                )
        page = list(
            records.select_related("charger", "user", "card").order_by("-created_at", "-id")[
                : LOG_PAGE_SIZE + 1
            ]
        )
        filters = {
            name: params[name]
            for name in ("charger", "result", "since", "until")
            if params.get(name)
        }
        context.update(
            filter_form=form,
            records=page[:LOG_PAGE_SIZE],
            is_filtered=bool(filters),
            newest_url="?" + urlencode(filters) if before else None,
            older_url=(
                "?" + urlencode({**filters, "before": page[LOG_PAGE_SIZE - 1].pk})
                if len(page) > LOG_PAGE_SIZE
                else None
            ),
        )
        return context

    def filtered(
        self, records: QuerySet[AuthorizationRecord], form: AuthorizationLogFilter
    ) -> QuerySet[AuthorizationRecord]:
        data = form.cleaned_data
        if data["charger"]:
            records = records.filter(charger_id=data["charger"])
        if data["result"]:
            records = records.filter(status=data["result"])
        since, until = form.time_range(self.installation.time_zone)
        if since:
            records = records.filter(created_at__gte=since)
        if until:
            records = records.filter(created_at__lt=until)
        return records
