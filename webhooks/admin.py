from django import forms
from django.contrib import admin
from django.db import models

from webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["id", "installation", "url", "enabled", "created_at"]
    list_filter = ["enabled"]
    list_select_related = ["installation"]
    raw_id_fields = ["installation", "created_by"]
    exclude = ["secret"]  # shown once, through the API or the page; never here
    readonly_fields = ["busy_until", "failing_since", "consecutive_failures"]
    # Webhook URLs are https (a bare host is not taken as http://).
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"},
    }


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "event_type", "status", "attempts", "response_code"]
    list_filter = ["status"]
    raw_id_fields = ["endpoint", "event"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # made by events (the consumer) or the test button
