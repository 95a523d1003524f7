"""The Access tab of an installation: who may charge, members' cards, seen cards, the rules,
the external authorizer and the authorization log.

Owners and installers only: every page needs ``Action.ADMINISTER`` on the installation
(``AccessPageMixin``), so a driver or an outsider gets a 404, and every object comes through
``restrict``. The rules are ``auth_access.services``' (granting, adding cards, assigning seen
cards); their ``AccessError`` is shown as a message or on the form, their ``ValidationError`` on
the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, CharField, Max, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Lower, NullIf
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.generic import FormView, TemplateView

from accounts.models import User
from auth_access import external, services
from auth_access.forms import (
    AccessRulesForm,
    AssignSeenCardForm,
    AuthorizationLogFilter,
    ChargingRightsForm,
    ExternalAuthorizerForm,
    MemberCardForm,
    add_model_errors,
    start_of_day,
)
from auth_access.models import AccessPolicy, AuthorizationRecord, ChargeCard, SeenCard
from auth_access.views import CardEditMixin, CardRow, person
from chargers.models import Charger
from installations.choices import Role
from installations.models import Membership
from installations.views import InstallationPageMixin
from portal.tenancy import Action

if TYPE_CHECKING:
    from datetime import datetime

ROLE_ORDER = [Role.OWNER, Role.INSTALLER, Role.DRIVER]
LOG_PAGE_SIZE = 50
SEEN_CARDS_PER_PAGE = 50
PEOPLE_PER_PAGE = 50


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


@dataclass
class MemberAccess:
    """A member on the People page: their right to charge, their cards, the form to change it."""

    membership: Membership
    cards: list[CardRow] = field(default_factory=list)
    rights_form: ChargingRightsForm | None = None
    is_self: bool = False

    @property
    def named_chargers(self) -> list[str]:
        return sorted(p.charger.name for p in self.membership.charger_permissions.all())


class MemberPlaces(AccessPageMixin):
    """Where a member stands in the paged list of "Who may charge"."""

    def people(self, query: str = "") -> QuerySet[Membership]:
        """The members in the page's order: owners, installers, drivers, then by name (or e-mail,
        as ``person()`` shows them), case-insensitive; those matching ``query`` if one is given."""
        members = self.memberships().annotate(
            role_rank=Case(
                *(When(role=role, then=Value(rank)) for rank, role in enumerate(ROLE_ORDER)),
                default=Value(len(ROLE_ORDER)),
            ),
            shown_name=Lower(
                Coalesce(NullIf("user__name", Value("")), "user__email", output_field=CharField())
            ),
        )
        if query:
            members = members.filter(
                Q(user__name__icontains=query) | Q(user__email__icontains=query)
            )
        return members.order_by("role_rank", "shown_name", "pk")

    def place_of(self, membership: Membership) -> tuple[str, int]:
        """The search and page number that show ``membership``: the search the form was sent
        from (``q`` in its action) while the member matches it, else the list of all members."""
        query = self.search_query
        for search in [query, ""] if query else [""]:
            members = self.people(search)
            key = members.filter(pk=membership.pk).values("role_rank", "shown_name").first()
            if key:
                rank, name = key["role_rank"], key["shown_name"]
                before = members.filter(
                    Q(role_rank__lt=rank)
                    | Q(role_rank=rank, shown_name__lt=name)
                    | Q(role_rank=rank, shown_name=name, pk__lt=membership.pk)
                ).count()
                return search, before // PEOPLE_PER_PAGE + 1
        return "", 1

    def member_url(self, membership: Membership) -> str:
        """The page of the list that shows ``membership``, scrolled to it."""
        people_url = reverse("access:people", args=[self.installation.pk])
        params = page_params(*self.place_of(membership))
        return f"{people_url}{'?' if params else ''}{params}#member-{membership.pk}"


class PeopleView(MemberPlaces, TemplateView):
    """Who may charge (installation-wide or on named chargers) and the members' cards: 50 members
    a page (owners, installers, drivers; then by name), searchable by name or e-mail."""

    template_name = "auth_access/people.html"
    section = "people"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chargers = self.chargers()
        # A form with errors is shown on the page of its member; otherwise the page asked for.
        bound: tuple[Membership, ChargingRightsForm] | None = kwargs.get("rights_form")
        if bound:
            query, number = self.place_of(bound[0])
        else:
            query, number = self.search_query, self.request.GET.get("page")
        members = self.people(query).prefetch_related("charger_permissions__charger")
        page = Paginator(members, PEOPLE_PER_PAGE).get_page(number)
        memberships: list[Membership] = list(page)
        now = timezone.now()
        cards: dict[int, list[CardRow]] = {}
        member_cards = self.restricted(ChargeCard).filter(
            user_id__in=[m.user_id for m in memberships]
        )
        for card in member_cards.select_related("blocked_by"):
            cards.setdefault(card.user_id, []).append(CardRow(card, now))
        may_manage_drivers = Role.DRIVER in self.access.manageable_roles
        rows = []
        for membership in memberships:
            form = None
            if membership.role == Role.DRIVER and may_manage_drivers:
                is_bound = bound is not None and bound[0].pk == membership.pk
                form = bound[1] if bound and is_bound else rights_form(membership, chargers)
            rows.append(
                MemberAccess(
                    membership,
                    cards.get(membership.user_id, []),
                    form,
                    is_self=membership.user_id == self.request.user.pk,
                )
            )
        context.update(
            rows=rows,
            page_obj=page,
            query=query,
            page_params=page_params(query, page.number),
            chargers=chargers,
            card_form=kwargs.get("card_form") or MemberCardForm(members=self.member_users()),
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


def rights_form(
    membership: Membership, chargers: list[Charger], data: Any = None
) -> ChargingRightsForm:
    everywhere = membership.may_charge_everywhere
    initial = {
        "scope": ChargingRightsForm.EVERYWHERE if everywhere else ChargingRightsForm.NAMED,
        "chargers": [str(p.charger_id) for p in membership.charger_permissions.all()],
    }
    return ChargingRightsForm(data, initial=initial, prefix=f"m{membership.pk}", chargers=chargers)


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


class PeopleFormView(ListFormMixin, PeopleView):
    """A form of the People page."""

    list_url_name = "access:people"


class ChargingRightsView(PeopleFormView):
    """Grant or revoke a driver's right to charge: everywhere here, or on the chargers ticked."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(self.memberships(), pk=kwargs["membership_pk"])
        if membership.role != Role.DRIVER:
            messages.error(request, "Owners and installers may charge on every charger here.")
            return redirect("access:people", pk=self.installation.pk)
        form = rights_form(membership, self.chargers(), request.POST)
        if not form.is_valid():
            context = self.get_context_data(rights_form=(membership, form))
            return self.render_to_response(context)
        actor: User = request.user  # type: ignore[assignment]
        everywhere = form.cleaned_data["scope"] == ChargingRightsForm.EVERYWHERE
        try:
            with transaction.atomic():
                services.set_installation_wide(actor, membership, everywhere)
                if not everywhere:
                    services.set_charger_permissions(actor, membership, form.chosen_chargers())
        except services.AccessError as error:
            messages.error(request, str(error))
            return redirect(self.member_url(membership))
        if everywhere:
            where = "every charger here"
        else:
            names = [charger.name for charger in form.chosen_chargers()]
            where = ", ".join(names) if names else "no charger here"
        messages.success(request, f"{person(membership.user)} may now charge on {where}.")
        return redirect(self.member_url(membership))


class MemberCardAddView(PeopleFormView):
    """Add a card for a member of the installation (owners and installers)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = MemberCardForm(request.POST, members=self.member_users())
        if form.is_valid():
            data = form.cleaned_data
            day = data["expires_on"]
            expires_at = start_of_day(day, self.installation.time_zone) if day else None
            try:
                card = services.add_card(
                    request.user,  # type: ignore[arg-type]
                    data["user"],
                    data["id_tag"],
                    name=data["name"],
                    expires_at=expires_at,
                )
            except ValidationError as error:
                add_model_errors(form, error, aliases={"expires_at": "expires_on"})
            except services.AccessError as error:
                form.add_error("user", str(error))
            else:
                messages.success(
                    request, f"Card {card.id_tag} was added for {person(data['user'])}."
                )
                member = self.memberships().filter(user=data["user"]).first()
                if member is None:  # left the installation meanwhile
                    return redirect("access:people", pk=self.installation.pk)
                return redirect(self.member_url(member))
        # The page the form was sent from (its action carries ``page`` and ``q``).
        return self.render_to_response(self.get_context_data(card_form=form))


class MemberCardEditView(CardEditMixin, MemberPlaces, TemplateView):
    """Rename a member's card or change its expiry (dates in the installation's time zone)."""

    def card_queryset(self) -> QuerySet[ChargeCard]:
        members = self.memberships().values("user_id")
        return self.restricted(ChargeCard).filter(user_id__in=members).select_related("user")

    def time_zone(self) -> str | None:
        return self.installation.time_zone

    def done_url(self, card: ChargeCard) -> str:
        """The page of "Who may charge" that shows the card's holder."""
        member = self.memberships().filter(user_id=card.user_id).first()
        if member is None:  # left the installation meanwhile
            return reverse("access:people", args=[self.installation.pk])
        return self.member_url(member)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["back_url"] = self.done_url(context["card"])
        return context


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
