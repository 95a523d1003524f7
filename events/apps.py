from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
    verbose_name = "Events and incidents"

    def ready(self) -> None:
        from events import incidents  # noqa: F401 (registers the incidents consumer)
