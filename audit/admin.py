from django.contrib import admin

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: a log is not edited."""

    list_display = [
        "at",
        "actor_email",
        "via",
        "action",
        "object_type",
        "object_repr",
        "installation_name",
    ]
    list_filter = ["action", "object_type", "via"]
    search_fields = ["actor_email", "object_repr", "installation_name"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
