"""An installation's audit log (owners and installers): filters, pages, CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.views.generic import TemplateView

from audit.models import AuditAction, AuditEntry
from installations.views import InstallationPageMixin
from portal.tenancy import Action
from reporting.exports import neutralise

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, choices=[("", "Any change"), *AuditAction.choices])
    object_type = forms.ChoiceField(required=False, label="Kind")
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Person or object"}),
    )
    first = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", "Everything"), *((k, k) for k in kinds)]  # type: ignore[attr-defined]

    def apply(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if not self.is_bound or not self.is_valid():
            return entries
        data = self.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["first"]:
            entries = entries.filter(at__date__gte=data["first"])
        if data["last"]:
            entries = entries.filter(at__date__lte=data["last"])
        term = (data["q"] or "").replace("\x00", "").strip()
        if term:
            entries = entries.filter(actor_email__icontains=term) | entries.filter(
                object_repr__icontains=term
            )
        return entries


class AuditLogMixin(InstallationPageMixin):
    installation_action = Action.ADMINISTER
    tab = "audit"

    def entries(self) -> QuerySet[AuditEntry]:
        return self.restricted(AuditEntry, Action.VIEW).filter(installation=self.installation)

    def form(self) -> AuditFilterForm:
        kinds = sorted(set(self.entries().values_list("object_type", flat=True)))
        params = self.request.GET  # type: ignore[attr-defined]
        bound = any(params.get(name) for name in AuditFilterForm.base_fields)
        return AuditFilterForm(params if bound else None, kinds=kinds)


class AuditLogView(AuditLogMixin, TemplateView):
    template_name = "audit/log.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = self.form()
        entries = form.apply(self.entries())
        page = Paginator(entries, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            installation=self.installation,
            access=self.access,
            tab=self.tab,
            tab_counts=self.tab_counts(),
            form=form,
            page=page,
            query=query.urlencode(),
        )
        return context


class AuditLogExportView(AuditLogMixin, TemplateView):
    def get(self, request: Any, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        entries = self.form().apply(self.entries())
        response = StreamingHttpResponse(_csv(entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["time (UTC)", "who", "via", "address", "action", "kind", "object", "changes"]
    )
    for entry in entries.iterator(chunk_size=2000):
        changes = "; ".join(
            f"{name}: {old!r} -> {new!r}" for name, (old, new) in entry.changes.items()
        )
        yield writer.writerow(
            [
                entry.at.isoformat(),
                neutralise(entry.actor_email),
                entry.via,
                entry.address or "",
                entry.action,
                entry.object_type,
                neutralise(entry.object_repr),
                neutralise(changes),
            ]
        )
