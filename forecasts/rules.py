"""Who may do what: one place for the rules the services, the admin and the API share."""


def user_is_moderator(user) -> bool:
    """Moderators (superusers, the Editors group) may resolve and edit any question."""
    return bool(
        user
        and user.is_authenticated
        and (user.is_superuser or user.has_perm("forecasts.moderate_question"))
    )


def user_can_edit_question(user, question) -> bool:
    """The owner while the question is a draft or open; moderators always."""
    if user_is_moderator(user):
        return True
    return question.owner_id == user.pk and question.status in question.EDITABLE_STATUSES


def user_can_resolve_question(user, question) -> bool:
    """Only the owner and moderators resolve, annul or undo a resolution."""
    return user_is_moderator(user) or question.owner_id == user.pk

