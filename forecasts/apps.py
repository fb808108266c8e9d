from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    name = "forecasts"
    verbose_name = "Forewarn"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save

        from forecasts.services.accounts import secrets_rotate_on_password_change

        # A new password revokes the user's API token and moves their calendar feed.
        post_save.connect(
            secrets_rotate_on_password_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="forewarn-rotate-secrets-on-password-change",
        )
