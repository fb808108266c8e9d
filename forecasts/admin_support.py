"""Pieces the admin modules share."""


class ReadOnlyAdminMixin:
    """Records nobody adds, changes or deletes through the admin: history, scores, deliveries."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
