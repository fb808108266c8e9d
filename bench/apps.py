from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmark: installed only by config.settings.bench, never in production."""

    name = "bench"
    verbose_name = "Forewarn benchmark"
