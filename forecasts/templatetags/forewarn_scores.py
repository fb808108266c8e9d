"""Template filters for score displays: Forewarn's Brier is on the 0-1 scale, shown with the 0-2 one."""

from django import template

from forecasts.aggregation import brier_on_both_scales

register = template.Library()


@register.filter
def brier_scales(value) -> str:
    """'0.125 (0.250 on the 0-2 scale)', or '–' for no score."""
    return "–" if value is None else brier_on_both_scales(value)
