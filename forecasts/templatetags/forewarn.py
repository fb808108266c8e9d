"""How the workbench's templates show numbers: probabilities as percentages, scores to three decimals."""

from django import template
from django.utils.timesince import timesince

from forecasts.admin.support import as_percent, three_decimals
from forecasts.models import Forecast
from forecasts.services.groups import last_day

register = template.Library()


@register.filter
def percent(probability):
    """0.625 -> '62.5%'; nothing -> an en dash."""
    return as_percent(probability) or "–"


@register.filter
def decimal3(value):
    """0.10562499999999997 -> '0.106'; nothing -> an en dash."""
    return three_decimals(value) or "–"


@register.filter
def signed3(value):
    """A difference to three decimals with its sign: -0.042 -> '−0.042', 0.1 -> '+0.100'."""
    return three_decimals(value, signed=True) or "–"


@register.filter
def yardstick_label(code):
    """'icd203' -> 'ICD 203', as the forecasts name their yardstick; an unknown code as it is."""
    return dict(Forecast.Yardstick.choices).get(code, code)


@register.filter
def ago(moment, now):
    """How long before `now` `moment` was: '3 hours ago', 'just now' under a minute; nothing -> an en dash."""
    if moment is None:
        return "–"
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now)} ago"


@register.filter
def window_last_day(window_end):
    """The last day a window covers, as a date: a window ending at 00:00 UTC ends with the day before."""
    return last_day(window_end) if window_end else None
