"""Every write Forewarn makes goes through one of these services; import them from this package.

- questions, drafts, sources, forecasts, accounts: what people create and edit.
- resolutions: resolve, annul and undo, as one transition table.
- crowd: the crowd median and counts, maintained as forecasts arrive.
- scores: the stored scores, rebuilt from forecasts and resolutions.
- lifecycle: closing ended windows, and the sweep with what follows it (beat and `manage.py sweep`).
- reminders: who is reminded, nudged or told, and when.
- messages: the wording of every notice and email.
- notifications: storing notices; deliveries: sending them (digest email, webhook POST).
- action_links: the one-click links in digest emails; batches: the sweep's locked batches.
"""

from forecasts.exceptions import WebhookDeliveryFailed
from forecasts.services.accounts import (
    api_token_expired,
    api_token_issue,
    api_token_max_age,
    api_token_revoke,
    api_token_rotate,
    calendar_feed_url,
    calendar_token_rotate,
    profile_update,
    user_secrets_rotate,
)
from forecasts.services.action_links import (
    ACTIONS,
    SALT,
    ActionLinkConflict,
    ActionLinkError,
    ActionLinkExpired,
    ActionLinkForbidden,
    ActionLinkInvalid,
    ActionLinkUsed,
    action_link_read,
    action_link_url,
    action_link_use,
)
from forecasts.services.batches import in_locked_batches
from forecasts.services.crowd import crowd_rebuild, question_crowd_refresh
from forecasts.services.deliveries import (
    NOT_VISIBLE_ERROR,
    DeliveryTally,
    digest_deliver,
    digests_deliver_inline,
    digests_prepare,
    digests_queue,
    digests_tick_queue,
    tasks_queue,
    webhook_deliver,
    webhook_deliveries_due,
    webhooks_deliver_inline,
    webhooks_queue,
)
from forecasts.services.drafts import question_delete
from forecasts.services.forecasts import forecast_submit, probability_from_input
from forecasts.services.lifecycle import LifecycleRun, SweepReport, lifecycle_run, lifecycle_sweep, questions_close_due
from forecasts.services.messages import (
    closing_soon_message,
    digest_email_build,
    digest_items,
    digest_message_id,
    escalation_message,
    format_moment,
    question_admin_url,
    ready_to_resolve_message,
    reminder_message,
    resolution_message,
    score_summary_text,
    webhook_text,
)
from forecasts.services.notifications import key_moment, notifications_create, notifications_mark_read
from forecasts.services.questions import (
    EDITABLE_FIELDS,
    question_create,
    question_open,
    question_update,
    resolve_by_extend,
)
from forecasts.services.reminders import (
    closing_soon_notify,
    escalations_send,
    moderator_ids,
    reminder_offset,
    reminder_round_due,
    resolution_events_notify,
    resolution_notices_send,
    resolutions_notify,
    resolver_reminders_send,
)
from forecasts.services.resolutions import (
    TRANSITIONS,
    ResolutionDetails,
    question_annul,
    question_resolve,
    question_unresolve,
    resolution_change,
)
from forecasts.services.scores import (
    RECOMPUTE_BATCH_SIZE,
    question_scores_recompute,
    questions_missing_scores,
    questions_scores_recompute,
    score_summaries_for,
    scores_from_forecasts,
    scores_recompute_all,
    scoring_cutoff,
    stale_scores_recompute,
)
from forecasts.services.sources import source_create

__all__ = [
    "ACTIONS",
    "EDITABLE_FIELDS",
    "NOT_VISIBLE_ERROR",
    "RECOMPUTE_BATCH_SIZE",
    "SALT",
    "TRANSITIONS",
    "ActionLinkConflict",
    "ActionLinkError",
    "ActionLinkExpired",
    "ActionLinkForbidden",
    "ActionLinkInvalid",
    "ActionLinkUsed",
    "DeliveryTally",
    "LifecycleRun",
    "ResolutionDetails",
    "SweepReport",
    "WebhookDeliveryFailed",
    "action_link_read",
    "action_link_url",
    "action_link_use",
    "api_token_expired",
    "api_token_issue",
    "api_token_max_age",
    "api_token_revoke",
    "api_token_rotate",
    "calendar_feed_url",
    "calendar_token_rotate",
    "closing_soon_message",
    "closing_soon_notify",
    "crowd_rebuild",
    "digest_deliver",
    "digest_email_build",
    "digest_items",
    "digest_message_id",
    "digests_deliver_inline",
    "digests_prepare",
    "digests_queue",
    "digests_tick_queue",
    "escalation_message",
    "escalations_send",
    "forecast_submit",
    "format_moment",
    "in_locked_batches",
    "key_moment",
    "lifecycle_run",
    "lifecycle_sweep",
    "moderator_ids",
    "notifications_create",
    "notifications_mark_read",
    "probability_from_input",
    "profile_update",
    "question_admin_url",
    "question_annul",
    "question_create",
    "question_crowd_refresh",
    "question_delete",
    "question_open",
    "question_resolve",
    "question_scores_recompute",
    "question_unresolve",
    "question_update",
    "questions_close_due",
    "questions_missing_scores",
    "questions_scores_recompute",
    "ready_to_resolve_message",
    "reminder_message",
    "reminder_offset",
    "reminder_round_due",
    "resolution_change",
    "resolution_events_notify",
    "resolution_message",
    "resolution_notices_send",
    "resolutions_notify",
    "resolve_by_extend",
    "resolver_reminders_send",
    "score_summaries_for",
    "score_summary_text",
    "scores_from_forecasts",
    "scores_recompute_all",
    "scoring_cutoff",
    "source_create",
    "stale_scores_recompute",
    "tasks_queue",
    "user_secrets_rotate",
    "webhook_deliver",
    "webhook_deliveries_due",
    "webhook_text",
    "webhooks_deliver_inline",
    "webhooks_queue",
]
