"""Every write Forewarn makes goes through one of these services."""

from forecasts.services.action_links import action_link_read, action_link_use
from forecasts.services.crowd import crowd_rebuild, question_crowd_refresh
from forecasts.services.deliveries import digest_deliver, digests_prepare, webhook_deliver, webhook_deliveries_due
from forecasts.services.forecasts import forecast_submit, probability_from_input
from forecasts.services.notifications import resolutions_notify
from forecasts.services.questions import question_create, question_open, question_update
from forecasts.services.resolutions import question_annul, question_resolve, question_unresolve
from forecasts.services.scores import question_scores_recompute, scores_from_forecasts
from forecasts.services.sweep import lifecycle_sweep

__all__ = [
    "action_link_read",
    "action_link_use",
    "crowd_rebuild",
    "digest_deliver",
    "digests_prepare",
    "forecast_submit",
    "lifecycle_sweep",
    "probability_from_input",
    "question_annul",
    "question_create",
    "question_crowd_refresh",
    "question_open",
    "question_resolve",
    "question_scores_recompute",
    "question_unresolve",
    "question_update",
    "resolutions_notify",
    "scores_from_forecasts",
    "webhook_deliver",
    "webhook_deliveries_due",
]
