from django.contrib import admin

from alerts.models import AlertMail, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "installation", "enabled", "delivery", "offline_threshold_minutes"]
    list_filter = ["enabled", "delivery"]
    raw_id_fields = ["user", "installation"]
    filter_horizontal = ["muted_chargers"]


@admin.register(AlertMail)
class AlertMailAdmin(admin.ModelAdmin):
    """The outbox: read only (senders write it); a failed e-mail shows its last error."""

    list_display = ["subject", "to_address", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["to_address", "subject", "dedup_key"]
    readonly_fields = [field.name for field in AlertMail._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
