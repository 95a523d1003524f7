"""Web pages of installations: the list, settings, the circuit tree, chargers, members, invitations.

Every page reaches tenant data through ``TenantMixin`` (``Model.objects.restrict(user, action)``),
so another tenant's installation, circuit, member or invitation is a 404 exactly like a missing
one. Pages below one installation share ``InstallationPageMixin``: it finds the installation
through the same gate and tells the templates what the user may do there (``access``).
Workflows (creating, inviting, changing roles) are ``installations.services`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Count, Prefetch, ProtectedError, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import (
    CreateView,
    DeleteView,
    DetailView,
    FormView,
    ListView,
    TemplateView,
    UpdateView,
)

from chargers.models import Charger, Connector
from commands.routing import live_states
from installations import services
from installations.choices import MANAGEABLE_ROLES, Role
from installations.forms import (
    CircuitForm,
    InstallationCreateForm,
    InstallationForm,
)
from installations.models import Circuit, Installation, Invitation, Membership
from portal.tenancy import Action
from portal.views import TenantMixin

if TYPE_CHECKING:
    from accounts.models import User


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("installations:list")
    return redirect("account_login")


@dataclass(frozen=True)
class Access:
    """What the current user may do at one installation (drives which buttons a page shows)."""

    role: Role | None
    may_administer: bool
    is_owner: bool
    manageable_roles: frozenset[Role]

    @classmethod
    def of(cls, user: User, installation: Installation) -> Access:
        role = installation.role_of(user)
        may_administer = (
            Installation.objects.restrict(user, Action.ADMINISTER)
            .filter(pk=installation.pk)
            .exists()
        )
        manageable = (
            frozenset(Role) if user.is_superuser else MANAGEABLE_ROLES.get(role, frozenset())
        )
        return cls(
            role=role,
            may_administer=may_administer,
            is_owner=user.is_superuser or role == Role.OWNER,
            manageable_roles=manageable if may_administer else frozenset(),
        )


class InstallationPageMixin(TenantMixin):
    """A page of one installation: ``self.installation`` through ``restrict``, tabs, ``access``."""

    installation_action: ClassVar[Action] = Action.VIEW
    installation_kwarg: ClassVar[str] = "pk"
    tab: ClassVar[str] = "overview"

    def get_installation(self) -> Installation:
        queryset = self.restricted(Installation, self.installation_action)
        return get_object_or_404(queryset, pk=self.kwargs[self.installation_kwarg])

    @cached_property
    def installation(self) -> Installation:
        return self.get_installation()

    @cached_property
    def access(self) -> Access:
        return Access.of(self.request.user, self.installation)  # type: ignore[arg-type]

    def tab_counts(self) -> dict[str, int]:
        installation = self.installation
        counts = {
            "chargers": self.restricted(Charger, Action.VIEW)
            .filter(installation=installation)
            .distinct()
            .count()
        }
        if self.access.may_administer:
            counts["circuits"] = (
                self.restricted(Circuit, Action.ADMINISTER)
                .filter(installation=installation)
                .count()
            )
            counts["members"] = (
                self.restricted(Membership, Action.VIEW).filter(installation=installation).count()
            )
        return counts

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(
            installation=self.installation,
            access=self.access,
            tab=self.tab,
            tab_counts=self.tab_counts(),
        )
        return context


class InstallationObjectMixin(InstallationPageMixin):
    """A page of an object below an installation (circuit, charger, member): its installation."""

    def get_installation(self) -> Installation:
        return self.object.installation  # type: ignore[attr-defined]


# ---------- Installations ----------


@dataclass
class InstallationRow:
    installation: Installation
    role: Role | None
    charger_count: int = 0
    online_count: int = 0


class InstallationListView(TenantMixin, ListView):
    """The installations the user belongs to, with their role and how many chargers are online."""

    model = Installation
    template_name = "installations/list.html"
    paginate_by = 48

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        query = self.search_query
        if query:
            queryset = queryset.filter(Q(name__icontains=query) | Q(address__icontains=query))
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["query"] = self.search_query
        user = self.request.user
        roles = dict(
            self.restricted(Membership).filter(user=user).values_list("installation_id", "role")
        )
        chargers = (
            self.restricted(Charger)
            .order_by()
            .values("installation_id")
            .annotate(
                total=Count("id", distinct=True),
                online=Count("id", distinct=True, filter=Q(is_online=True)),
            )
        )
        counts = {row["installation_id"]: row for row in chargers}
        context["rows"] = [
            InstallationRow(
                installation=installation,
                role=Role(roles[installation.pk]) if installation.pk in roles else None,
                charger_count=counts.get(installation.pk, {}).get("total", 0),
                online_count=counts.get(installation.pk, {}).get("online", 0),
            )
            for installation in context["object_list"]
        ]
        context["pending_invitations"] = services.pending_invitations(user)  # type: ignore[arg-type]
        return context


class InstallationCreateView(LoginRequiredMixin, FormView):
    """Create an installation with its main fuse; the creator becomes its owner."""

    form_class = InstallationCreateForm
    template_name = "installations/installation_form.html"

    def form_valid(self, form: InstallationCreateForm) -> HttpResponse:
        fields = {name: getattr(form.instance, name) for name in InstallationForm.Meta.fields}
        installation = services.create_installation(
            self.request.user,  # type: ignore[arg-type]
            main_fuse_a=form.cleaned_data["main_fuse_a"],
            **fields,
        )
        messages.success(self.request, f"{installation.name} was created. You are its owner.")
        return redirect("installations:detail", pk=installation.pk)


class InstallationDetailView(InstallationPageMixin, DetailView):
    """Overview: live numbers and the settings summary."""

    model = Installation
    template_name = "installations/detail.html"

    def get_object(self, queryset: QuerySet[Any] | None = None) -> Installation:
        return self.installation

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chargers = self.restricted(Charger).filter(installation=self.installation).distinct()
        context["online_count"] = chargers.filter(is_online=True).count()
        connectors = self.restricted(Connector).filter(charger__installation=self.installation)
        context["charging_count"] = connectors.filter(status="Charging").count()
        if self.access.may_administer:
            context["main_fuse"] = (
                self.restricted(Circuit, Action.ADMINISTER)
                .filter(installation=self.installation, parent__isnull=True)
                .first()
            )
            context["open_invitations"] = (
                self.restricted(Invitation, Action.ADMINISTER)
                .filter(installation=self.installation, accepted_at__isnull=True)
                .count()
            )
        else:
            context["my_membership"] = (
                self.restricted(Membership)
                .filter(installation=self.installation, user=self.request.user)
                .first()
            )
        return context


class InstallationUpdateView(InstallationPageMixin, UpdateView):
    """Edit an installation's settings (owners and installers)."""

    model = Installation
    form_class = InstallationForm
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    template_name = "installations/installation_form.html"
    tab = "settings"

    def get_object(self, queryset: QuerySet[Any] | None = None) -> Installation:
        return self.installation

    def form_valid(self, form: InstallationForm) -> HttpResponse:
        messages.success(self.request, "The settings were saved.")
        return super().form_valid(form)

    def get_success_url(self) -> str:
        return reverse("installations:detail", args=[self.installation.pk])


class InstallationDeleteView(InstallationPageMixin, DeleteView):
    """Delete an installation with everything in it (owners only, after a confirmation)."""

    model = Installation
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    template_name = "installations/installation_confirm_delete.html"
    tab = "settings"

    def get_object(self, queryset: QuerySet[Any] | None = None) -> Installation:
        if not self.access.is_owner:
            raise Http404("Only an owner may delete an installation.")
        return self.installation

    def form_valid(self, form: Any) -> HttpResponse:
        name = self.installation.name
        try:
            services.delete_installation(self.request.user, self.installation)  # type: ignore[arg-type]
        except services.MembershipError as error:
            messages.error(self.request, str(error))
            return redirect("installations:detail", pk=self.installation.pk)
        messages.success(self.request, f"{name} was deleted.")
        return redirect("installations:list")


# ---------- Circuits ----------


@dataclass
class CircuitNode:
    """A circuit in the tree page, with the circuits and chargers directly below it."""

    circuit: Circuit
    children: list[CircuitNode] = field(default_factory=list)
    chargers: list[Charger] = field(default_factory=list)

    @property
    def charger_count(self) -> int:
        return len(self.chargers) + sum(child.charger_count for child in self.children)


def build_circuit_tree(circuits: list[Circuit], chargers: list[Charger]) -> list[CircuitNode]:
    nodes = {circuit.pk: CircuitNode(circuit) for circuit in circuits}
    for charger in chargers:
        if charger.circuit_id in nodes:
            nodes[charger.circuit_id].chargers.append(charger)
    roots: list[CircuitNode] = []
    for circuit in circuits:
        parent = nodes.get(circuit.parent_id) if circuit.parent_id else None
        (parent.children if parent else roots).append(nodes[circuit.pk])
    for node in nodes.values():
        node.children.sort(key=lambda n: n.circuit.name.lower())
    return roots


class CircuitTreeView(InstallationPageMixin, TemplateView):
    """The fuse tree: each circuit's limit and the chargers below it (owners and installers)."""

    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    template_name = "installations/circuits.html"
    tab = "circuits"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        circuits = list(self.restricted(Circuit).filter(installation=self.installation))
        chargers = list(self.restricted(Charger).filter(installation=self.installation))
        context["tree"] = build_circuit_tree(circuits, chargers)
        return context


class CircuitFormMixin(InstallationPageMixin):
    model = Circuit
    form_class = CircuitForm
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    template_name = "installations/circuit_form.html"
    tab = "circuits"

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()  # type: ignore[misc]
        kwargs["circuits"] = self.restricted(Circuit).filter(installation=self.installation)
        return kwargs

    def get_success_url(self) -> str:
        return reverse("installations:circuits", args=[self.installation.pk])


class CircuitCreateView(CircuitFormMixin, CreateView):
    """Add a sub-circuit (``?parent=<id>`` preselects the circuit above it)."""

    def get_initial(self) -> dict[str, Any]:
        circuits = self.restricted(Circuit).filter(installation=self.installation)
        parent = circuits.filter(pk=self.request.GET.get("parent") or 0).first()
        return {"parent": parent or circuits.filter(parent__isnull=True).first()}

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = Circuit(installation=self.installation)
        return kwargs

    def form_valid(self, form: CircuitForm) -> HttpResponse:
        messages.success(self.request, f"Circuit {form.instance.name} was added.")
        return super().form_valid(form)


class CircuitUpdateView(CircuitFormMixin, InstallationObjectMixin, UpdateView):
    def form_valid(self, form: CircuitForm) -> HttpResponse:
        messages.success(self.request, f"Circuit {form.instance.name} was saved.")
        return super().form_valid(form)


class CircuitDeleteView(InstallationObjectMixin, DeleteView):
    """Delete a sub-circuit and the circuits below it; refused while chargers hang below it."""

    model = Circuit
    required_action = Action.ADMINISTER
    template_name = "installations/circuit_confirm_delete.html"
    tab = "circuits"

    def get_success_url(self) -> str:
        return reverse("installations:circuits", args=[self.installation.pk])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        circuits = list(self.restricted(Circuit).filter(installation=self.installation))
        chargers = list(self.restricted(Charger).filter(installation=self.installation))
        tree = {node.circuit.pk: node for node in _walk(build_circuit_tree(circuits, chargers))}
        context["node"] = tree.get(self.object.pk)
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        circuit = self.object
        if circuit.is_main_fuse:
            messages.error(
                self.request, "The main fuse cannot be deleted; change its rating instead."
            )
            return redirect(self.get_success_url())
        try:
            circuit.delete()
        except ProtectedError:
            messages.error(
                self.request,
                f"Chargers are connected to {circuit.name} or a circuit below it; move or remove them first.",
            )
            return redirect(self.get_success_url())
        messages.success(self.request, f"Circuit {circuit.name} was deleted.")
        return HttpResponseRedirect(self.get_success_url())


def _walk(nodes: list[CircuitNode]) -> list[CircuitNode]:
    found: list[CircuitNode] = []
    for node in nodes:
        found.append(node)
        found.extend(_walk(node.children))
    return found


# ---------- Chargers tab ----------


class InstallationChargersView(InstallationPageMixin, ListView):
    """The installation's chargers the user may see, with their connectors' statuses."""

    model = Charger
    template_name = "installations/chargers.html"
    context_object_name = "chargers"
    tab = "chargers"

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        connectors = Prefetch("connectors", queryset=self.restricted(Connector))
        return (
            queryset.filter(installation=self.installation)
            .distinct()
            .select_related("circuit")
            .prefetch_related(connectors)
            .order_by("name", "id")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chargers = list(context["chargers"])
        states = live_states([charger.pk for charger in chargers])  # one Redis round trip
        for charger in chargers:
            charger.live = states[charger.pk]
        context["chargers"] = chargers
        return context
