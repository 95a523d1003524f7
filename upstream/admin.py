"""The upstream bridge in the Django admin. Settings are saved and deleted through the same
rules and workflow as the pages and the API (``upstream.services``): the URL's SSRF guard, the
password and profile rules, and the bridge told on commit (``settings_changed``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from upstream import services
from upstream.models import (
    UpstreamCap,
    UpstreamLink,
    UpstreamMessage,
    UpstreamSettings,
    UpstreamTransaction,
)


class UpstreamSettingsAdminForm(forms.ModelForm):
    """The model's fields but the password, which is write-only (empty keeps the stored one);
    ``services.validate`` checks the row as the pages and the API do."""

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only (profiles 1 and 2): empty keeps the stored password.",
    )

    class Meta:
        model = UpstreamSettings
        fields = [
            "installation", "charger", "enabled", "paused", "url", "identity",
            "security_profile", "ca_certificate", "authorization", "offline_authorization",
            "allowed_commands", "allow_firmware", "charger_down",
        ]  # fmt: skip

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        if self.cleaned_data.get("new_password"):
            self.instance.password = self.cleaned_data["new_password"]
        try:
            services.validate(self.instance)
        except ValidationError as invalid:
            for field, messages in invalid.message_dict.items():
                name = "new_password" if field == "password" else field
                self.add_error(name if name in self.fields else None, messages)


@admin.register(UpstreamSettings)
class UpstreamSettingsAdmin(admin.ModelAdmin):
    form = UpstreamSettingsAdminForm
    list_display = ["id", "installation", "charger", "url", "enabled", "paused", "authorization"]
    list_filter = ["enabled", "paused", "authorization"]
    raw_id_fields = ["installation", "charger"]

    def save_model(
        self, request: HttpRequest, obj: UpstreamSettings, form: Any, change: bool
    ) -> None:
        services.save_settings(obj)  # checked again, saved, the bridge told on commit

    def delete_model(self, request: HttpRequest, obj: UpstreamSettings) -> None:
        services.delete_settings(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UpstreamSettings]) -> None:
        for row in queryset:
            services.delete_settings(row)


@admin.register(UpstreamLink)
class UpstreamLinkAdmin(admin.ModelAdmin):
    list_display = ["charger", "state", "since", "reason", "node"]
    list_filter = ["state"]
    raw_id_fields = ["charger"]


@admin.register(UpstreamMessage)
class UpstreamMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "charger", "action", "created_at", "attempts", "sent_at"]
    list_filter = ["action"]
    raw_id_fields = ["charger", "session"]


@admin.register(UpstreamTransaction)
class UpstreamTransactionAdmin(admin.ModelAdmin):
    list_display = ["session", "charger", "upstream_transaction_id", "id_tag_status"]
    raw_id_fields = ["session", "charger"]


@admin.register(UpstreamCap)
class UpstreamCapAdmin(admin.ModelAdmin):
    list_display = ["charger", "connector_id", "profile_id", "purpose", "stack_level", "valid_to"]
    list_filter = ["purpose"]
    raw_id_fields = ["charger", "session"]
