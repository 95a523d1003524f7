from django.contrib import admin

from reporting.models import DailyUsage, ExportJob, PricePeriod


@admin.register(PricePeriod)
class PricePeriodAdmin(admin.ModelAdmin):
    """Read the price history; change it only through the pages or the API (append-only)."""

    list_display = ["installation", "effective_from", "price_per_kwh", "currency", "created_by"]
    list_select_related = ["installation", "created_by"]
    list_filter = ["currency"]
    search_fields = ["installation__name"]
    date_hierarchy = "effective_from"

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Large exports: who asked for what and how it went (read only; the files expire)."""

    list_display = ["id", "requested_by", "source", "format", "status", "rows_done", "created_at"]
    list_select_related = ["requested_by"]
    list_filter = ["status", "source", "format"]
    search_fields = ["requested_by__email", "title"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """The daily usage rollup, read only: only the database's triggers write it
    (``manage.py rollup --check`` compares it with the sessions)."""

    list_display = ["installation", "day", "charger", "user", "card", "sessions", "energy_wh"]
    list_select_related = ["installation", "charger", "user", "card"]
    date_hierarchy = "day"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
