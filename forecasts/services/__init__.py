"""Every write Forewarn makes goes through one of these services."""

from forecasts.services.forecasts import forecast_submit, probability_from_input
from forecasts.services.questions import question_create, question_open, question_update
from forecasts.services.resolutions import question_annul, question_resolve, question_unresolve

__all__ = [
    "forecast_submit",
    "probability_from_input",
    "question_annul",
    "question_create",
    "question_open",
    "question_resolve",
    "question_unresolve",
    "question_update",
]
