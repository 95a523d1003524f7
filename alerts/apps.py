from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "E-mail alerts"

    def ready(self) -> None:
        from alerts import consumers  # noqa: F401  (registers the "alerts" event consumer)
