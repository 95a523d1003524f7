from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        from webhooks import consumers  # noqa: F401  (registers the "webhooks" event consumer)
