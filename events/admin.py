from django.contrib import admin

from events.models import ConsumerCursor, Event, Incident, IncidentCharger


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "severity", "installation", "charger", "occurred_at"]
    list_filter = ["type", "severity"]
    list_select_related = ["installation", "charger"]
    raw_id_fields = ["installation", "charger", "session"]
    readonly_fields = ["recorded_at", "xid"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # events are written by what happened (events.emit), never by hand


@admin.register(ConsumerCursor)
class ConsumerCursorAdmin(admin.ModelAdmin):
    list_display = ["name", "xid", "event_id", "updated_at"]


class IncidentChargerInline(admin.TabularInline):
    model = IncidentCharger
    raw_id_fields = ["charger"]
    extra = 0


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "installation", "kind", "summary", "started_at", "ended_at"]
    list_filter = ["kind"]
    list_select_related = ["installation"]
    raw_id_fields = ["installation", "acknowledged_by"]
    inlines = [IncidentChargerInline]


@admin.register(IncidentCharger)
class IncidentChargerAdmin(admin.ModelAdmin):
    list_display = ["id", "incident", "charger", "connector_id", "started_at", "ended_at"]
    raw_id_fields = ["incident", "charger"]
