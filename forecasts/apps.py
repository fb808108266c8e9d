from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    name = "forecasts"
    verbose_name = "Forewarn"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Connects the password-change hook that rotates a user's secrets (forecasts/services/accounts.py).
        import forecasts.services.accounts  # noqa: F401
