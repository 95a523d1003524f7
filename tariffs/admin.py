"""Tariffs, holidays and day-ahead prices in the admin: read the price history; change it only
through the pages or the API (``tariffs.services`` keeps it append-only)."""

from django.contrib import admin

from tariffs.models import DayAheadPrice, Holiday, SessionCost, Tariff, TariffBand


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class TariffBandInline(admin.TabularInline):
    model = TariffBand
    extra = 0
    fields = ["day_type", "start_time", "end_time", "price_per_kwh"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Tariff)
class TariffAdmin(_ReadOnly):
    list_display = ["installation", "name", "effective_from", "currency", "created_by"]
    list_select_related = ["installation", "created_by"]
    search_fields = ["installation__name", "name"]
    date_hierarchy = "effective_from"
    inlines = [TariffBandInline]


@admin.register(TariffBand)
class TariffBandAdmin(_ReadOnly):
    list_display = ["tariff", "day_type", "start_time", "end_time", "price_per_kwh"]
    list_select_related = ["tariff"]
    list_filter = ["day_type"]


@admin.register(Holiday)
class HolidayAdmin(_ReadOnly):
    list_display = ["installation", "date", "name"]
    list_select_related = ["installation"]
    date_hierarchy = "date"


@admin.register(DayAheadPrice)
class DayAheadPriceAdmin(_ReadOnly):
    list_display = ["installation", "start", "end", "price_per_kwh", "currency"]
    list_select_related = ["installation"]
    date_hierarchy = "start"


@admin.register(SessionCost)
class SessionCostAdmin(_ReadOnly):
    list_display = ["session", "cost", "currency", "price_per_kwh", "energy_wh", "priced_at"]
    raw_id_fields = ["session"]
