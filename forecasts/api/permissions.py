"""Who may call what. Reads only need a signed-in user; rows are then filtered by visibility."""

from rest_framework.permissions import BasePermission


class CreateNeedsModelPermission(BasePermission):
    """POST needs the view's `create_permission` (Forecasters and Editors have it); reads do not."""

    message = "Your account may read but not create these; ask an editor to add you to Forecasters."

    def has_permission(self, request, view):
        if request.method != "POST":
            return True
        return request.user.has_perm(view.create_permission)
