"""API permission classes: thin adapters over the models' visibility rules."""

from rest_framework import permissions


class IsSalesUser(permissions.BasePermission):
    """Any active CRM user: rep, manager, integration or admin."""

    message = "You need a CRM account to use the API."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_sales_user)


class CanChangeOrReadOnly(IsSalesUser):
    """Everyone in scope reads; writes need the object's ``can_change(user)``."""

    message = "Only the owner, the owner's manager or an admin can change this."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return obj.can_change(request.user)


class IsAdminOrIntegration(permissions.BasePermission):
    """Admins and integration users (webhook management)."""

    message = "Only admins and integration users manage webhooks."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.sees_everything)
